-module(sll).
-export([main/1]).
lcg(X) -> (X * 1103515245 + 12345) rem 2147483648.
insert(X, []) -> [X];
insert(X, [H | _] = L) when X < H -> [X | L];
insert(X, [X | _] = L) -> L;
insert(X, [H | T]) -> [H | insert(X, T)].
contains(_, []) -> false;
contains(X, [H | _]) when X < H -> false;
contains(X, [X | _]) -> true;
contains(X, [_ | T]) -> contains(X, T).
server(L) ->
    receive
        {ins, X, From} -> From ! ok, server(insert(X, L));
        {has, X, From} -> From ! {r, contains(X, L)}, server(L);
        {size, From} -> From ! {r, length(L)}, server(L);
        {stop, From} -> From ! {final, length(L), lists:sum(L)}
    end.
worker(_Srv, 0, _X, Main, Hits) -> Main ! {done, Hits};
worker(Srv, K, X, Main, Hits) ->
    X1 = lcg(X), V = (X1 bsr 4) rem 5000, Op = X1 rem 100,
    if Op < 10 -> Srv ! {ins, V, self()}, receive ok -> worker(Srv, K - 1, X1, Main, Hits) end;
       Op < 11 -> Srv ! {size, self()}, receive {r, _} -> worker(Srv, K - 1, X1, Main, Hits) end;
       true -> Srv ! {has, V, self()}, receive {r, B} -> worker(Srv, K - 1, X1, Main, if B -> Hits + 1; true -> Hits end) end
    end.
spawn_all(I, W, Srv, K, Me) when I < W -> spawn(fun() -> worker(Srv, K, I + 1, Me, 0) end), spawn_all(I + 1, W, Srv, K, Me);
spawn_all(_, _, _, _, _) -> ok.
collect(0, Acc) -> Acc;
collect(N, Acc) -> receive {done, R} -> collect(N - 1, Acc + R) end.
main([WS, KS]) ->
    W = list_to_integer(WS), K = list_to_integer(KS),
    T0 = erlang:monotonic_time(millisecond),
    Srv = spawn(fun() -> server([]) end),
    spawn_all(0, W, Srv, K, self()),
    _Hits = collect(W, 0),
    Srv ! {stop, self()},
    R = receive {final, Len, S} -> io_lib:format("~b/~b", [Len, S]) end,
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~s elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
