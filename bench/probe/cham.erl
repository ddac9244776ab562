-module(cham).
-export([main/1]).
compl(A, A) -> A;
compl(A, B) -> 3 - (A + B).
creature(Broker, Color, Count, Main) ->
    Broker ! {meet, self(), Color},
    receive
        {mate, _Other, OColor} -> creature(Broker, compl(Color, OColor), Count + 1, Main);
        stop -> Main ! {done, Count, Color}
    end.
drain(0) -> ok;
drain(K) -> receive {meet, Pid, _} -> Pid ! stop, drain(K - 1) end.
broker(0, none, C) -> drain(C);
broker(0, {WP, _}, C) -> WP ! stop, drain(C - 1);
broker(N, Waiting, C) ->
    receive
        {meet, Pid, Color} ->
            case Waiting of
                none -> broker(N, {Pid, Color}, C);
                {WP, WC} -> WP ! {mate, Pid, Color}, Pid ! {mate, WP, WC}, broker(N - 1, none, C)
            end
    end.
spawn_all(I, C, B, Me) when I < C -> spawn(fun() -> creature(B, I rem 3, 0, Me) end), spawn_all(I + 1, C, B, Me);
spawn_all(_, _, _, _) -> ok.
collect(0, Acc) -> Acc;
collect(K, Acc) -> receive {done, N, _} -> collect(K - 1, Acc + N) end.
main([CS, MS]) ->
    C = list_to_integer(CS), M = list_to_integer(MS),
    T0 = erlang:monotonic_time(millisecond),
    B = spawn(fun() -> broker(M, none, C) end),
    spawn_all(0, C, B, self()),
    R = collect(C, 0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
