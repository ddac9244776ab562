-module(logmap).
-export([main/1]).
rate_computer(R) ->
    receive
        {compute, X, From} -> From ! {term, R * X * (1.0 - X)}, rate_computer(R);
        stop -> ok
    end.
series(Idx, RC, X, 0, Master) -> RC ! stop, Master ! {final, Idx, X};
series(Idx, RC, X, T, Master) ->
    RC ! {compute, X, self()},
    receive {term, X1} -> series(Idx, RC, X1, T - 1, Master) end.
collect(S, S, Acc) -> Acc;
collect(I, S, Acc) -> receive {final, I, V} -> collect(I + 1, S, Acc + V) end.
main([SS, TS]) ->
    S = list_to_integer(SS), T = list_to_integer(TS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    [begin RC = spawn(fun() -> rate_computer(3.46 + I * 0.0025) end),
           spawn(fun() -> series(I, RC, 0.02 + I * 0.001, T, Me) end) end || I <- lists:seq(0, S - 1)],
    R = collect(0, S, 0.0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [round(R * 1000000000.0), T1 - T0]),
    erlang:halt(0).
