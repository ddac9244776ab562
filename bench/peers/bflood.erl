%% bflood: N messages from T senders to one counter process (peer of
%% bench/flood.shoal). Each sender sends its share of N (the integer 1
%% each time, N/T, the first N rem T one more) with no flow control. Every
%% process is spawned and waiting before the clock starts; the clock runs
%% from the go to the senders until the counter has all N. Placement is
%% BEAM's own; the driver runs it with +S 1 and +S 2 (or more).
%%   erl -noshell +S S -pa EBIN -run bflood main N T
-module(bflood).
-export([main/1]).

counter(N, N, Parent) -> Parent ! {counted, N};
counter(N, Acc, Parent) -> receive X -> counter(N, Acc + X, Parent) end.

blast(_To, 0) -> ok;
blast(To, K) -> To ! 1, blast(To, K - 1).

sender(Parent, To, K) ->
    Parent ! ready,
    receive go -> blast(To, K) end,
    Parent ! sent.

main([NS, TS]) ->
    N = list_to_integer(NS), T = list_to_integer(TS),
    Me = self(),
    C = spawn(fun() -> counter(N, 0, Me) end),
    Ss = [spawn(fun() -> sender(Me, C, N div T + (if I < N rem T -> 1; true -> 0 end)) end)
          || I <- lists:seq(0, T - 1)],
    [receive ready -> ok end || _ <- Ss],
    T0 = erlang:monotonic_time(nanosecond),
    [S ! go || S <- Ss],
    receive {counted, Total} -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    [receive sent -> ok end || _ <- Ss],
    io:format("RESULT value=~.1f unit=ns/message elapsed_ms=~.3f count=~b senders=~b "
              "schedulers=~b~n",
              [(T1 - T0) / N, (T1 - T0) / 1.0e6, Total, T,
               erlang:system_info(schedulers_online)]),
    erlang:halt(0).
