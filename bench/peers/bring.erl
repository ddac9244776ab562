%% bring: a ring of P processes passes a token P*R hops (peer of
%% bench/ring.shoal). Placement is BEAM's own; the driver chooses the
%% number of schedulers (+S 1, or the default: one per core).
%%   erl -noshell [+S S] -pa EBIN -run bring main P R
-module(bring).
-export([main/1]).

node(Next, Parent) ->
    receive
        0 -> Parent ! done, node(Next, Parent);
        N -> Next ! N - 1, node(Next, Parent)
    end.

first_node(Parent) ->
    receive {next, Next} -> node(Next, Parent) end.

make_ring(P, P, Next, _Parent) -> Next;
make_ring(I, P, Next, Parent) ->
    Pid = spawn(fun() -> node(Next, Parent) end),
    make_ring(I + 1, P, Pid, Parent).

main([PS, RS]) ->
    P = list_to_integer(PS), R = list_to_integer(RS),
    Hops = P * R, Me = self(),
    First = spawn(fun() -> first_node(Me) end),
    Last = make_ring(1, P, First, Me),
    First ! {next, Last},
    T0 = erlang:monotonic_time(nanosecond),
    First ! Hops,
    receive done -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    io:format("RESULT value=~.1f unit=ns/hop elapsed_ms=~.3f count=~b schedulers=~b~n",
              [(T1 - T0) / Hops, (T1 - T0) / 1.0e6, Hops, erlang:system_info(schedulers_online)]),
    erlang:halt(0).
