%% bskew: W CPU-bound workers of ITERS loop iterations each (peer of
%% bench/skew.shoal); makespan in ms. Run with +S 1 and +S 2.
%%   erl -noshell +S S -pa EBIN -run bskew main W ITERS
-module(bskew).
-export([main/1]).

spin(0, Acc) -> Acc;
spin(I, Acc) -> spin(I - 1, Acc + 1).

collect(0) -> ok;
collect(K) -> receive {done, _} -> collect(K - 1) end.

main([WS, IS]) ->
    W = list_to_integer(WS), Iters = list_to_integer(IS),
    Me = self(),
    T0 = erlang:monotonic_time(microsecond),
    [spawn(fun() -> Me ! {done, spin(Iters, 0)} end) || _ <- lists:seq(1, W)],
    collect(W),
    T1 = erlang:monotonic_time(microsecond),
    io:format("RESULT value=~.3f unit=ms elapsed_ms=~.3f count=~b schedulers=~b~n",
              [(T1 - T0) / 1000, (T1 - T0) / 1000, W, erlang:system_info(schedulers_online)]),
    erlang:halt(0).
