-module(cdict).
-export([main/1]).
lcg(X) -> (X * 1103515245 + 12345) rem 2147483648.
server(M) ->
    receive
        {put, K, V, From} -> From ! ok, server(maps:put(K, V, M));
        {get, K, From} -> From ! {val, maps:get(K, M, 0)}, server(M);
        {stop, From} -> From ! {final, maps:size(M), maps:fold(fun(_K, V, Acc) -> (Acc + V) rem 1000000007 end, 0, M)}
    end.
worker(_Srv, 0, _X, Main, Reads) -> Main ! {done, Reads};
worker(Srv, K, X, Main, Reads) ->
    X1 = lcg(X), Key = (X1 bsr 4) rem 20000,
    case X1 rem 10 < 2 of
        true -> Srv ! {put, Key, Key * 3 + 1, self()}, receive ok -> worker(Srv, K - 1, X1, Main, Reads) end;
        false -> Srv ! {get, Key, self()}, receive {val, _V} -> worker(Srv, K - 1, X1, Main, Reads + 1) end
    end.
spawn_all(I, W, Srv, K, Me) when I < W -> spawn(fun() -> worker(Srv, K, I + 1, Me, 0) end), spawn_all(I + 1, W, Srv, K, Me);
spawn_all(_, _, _, _, _) -> ok.
collect(0, Acc) -> Acc;
collect(N, Acc) -> receive {done, R} -> collect(N - 1, Acc + R) end.
main([WS, KS]) ->
    W = list_to_integer(WS), K = list_to_integer(KS),
    T0 = erlang:monotonic_time(millisecond),
    Srv = spawn(fun() -> server(#{}) end),
    spawn_all(0, W, Srv, K, self()),
    Reads = collect(W, 0),
    Srv ! {stop, self()},
    R = receive {final, Size, Sum} -> io_lib:format("~b/~b/~b", [Size, Sum, Reads]) end,
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~s elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
