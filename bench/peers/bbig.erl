%% bbig: Savina's Big (peer of bench/big.shoal). BEAM places the actors.
%%   erl -noshell +S S:S -pa EBIN -run bbig main N M
-module(bbig).
-export([main/1]).

actor(M, Sink) -> receive {peers, Ps} -> run(Ps, tuple_size(Ps), M, Sink) end.

run(_Ps, _N, 0, Sink) -> Sink ! done, serve();
run(Ps, N, Left, Sink) ->
    element(rand:uniform(N), Ps) ! {ping, self()},
    await(Ps, N, Left, Sink).

await(Ps, N, Left, Sink) ->
    receive
        {ping, From} -> From ! pong, await(Ps, N, Left, Sink);
        pong -> run(Ps, N, Left - 1, Sink)
    end.

serve() -> receive {ping, From} -> From ! pong, serve(); stop -> ok end.

wait_n(0) -> ok;
wait_n(K) -> receive done -> wait_n(K - 1) end.

main([NS, MS]) ->
    N = list_to_integer(NS), M = list_to_integer(MS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    Pids = [spawn(fun() -> actor(M, Me) end) || _ <- lists:seq(1, N)],
    Ps = list_to_tuple(Pids),
    [P ! {peers, Ps} || P <- Pids],
    wait_n(N),
    T1 = erlang:monotonic_time(millisecond),
    [P ! stop || P <- Pids],
    io:format("RESULT value=~b unit=ms count=~b~n", [T1 - T0, N * M]),
    erlang:halt(0).
