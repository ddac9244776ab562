%% bcount: Savina's Counting Actor (peer of bench/count.shoal).
%%   erl -noshell +S S:S -pa EBIN -run bcount main N
-module(bcount).
-export([main/1]).

counter(N) -> receive {inc, K} -> counter(N + K); {get, From} -> From ! {count, N} end.

produce(_C, 0) -> ok;
produce(C, K) -> C ! {inc, 1}, produce(C, K - 1).

main([NS]) ->
    N = list_to_integer(NS),
    T0 = erlang:monotonic_time(millisecond),
    C = spawn(fun() -> counter(0) end),
    produce(C, N),
    C ! {get, self()},
    receive
        {count, V} ->
            io:format("RESULT value=~b unit=ms count=~b~n",
                      [erlang:monotonic_time(millisecond) - T0, V])
    end,
    erlang:halt(0).
