%% bpingpong: N round trips between two processes (peer of
%% bench/pingpong.shoal). Run with +S 2; BEAM places the two processes.
%%   erl -noshell +S 2 -pa EBIN -run bpingpong main N
-module(bpingpong).
-export([main/1]).

pong() ->
    receive
        {ping, From, K} -> From ! K, pong();
        stop -> ok
    end.

ping_loop(0, _Peer, _Me) -> ok;
ping_loop(K, Peer, Me) ->
    Peer ! {ping, Me, K},
    receive K -> ping_loop(K - 1, Peer, Me) end.

main([NS]) ->
    N = list_to_integer(NS),
    Pong = spawn(fun pong/0),
    Parent = self(),
    spawn(fun() ->
              T0 = erlang:monotonic_time(nanosecond),
              ping_loop(N, Pong, self()),
              T1 = erlang:monotonic_time(nanosecond),
              Pong ! stop,
              Parent ! {result, T1 - T0}
          end),
    receive {result, Ns} -> ok end,
    io:format("RESULT value=~.1f unit=ns/roundtrip elapsed_ms=~.3f count=~b schedulers=~b~n",
              [Ns / N, Ns / 1.0e6, N, erlang:system_info(schedulers_online)]),
    erlang:halt(0).
