%% bcalls: C clients making K synchronous calls each to one server (peer
%% of bench/calls.shoal).
%%   erl -noshell +S S:S -pa EBIN -run bcalls main C K
-module(bcalls).
-export([main/1]).

server(St) -> receive {call, From, Ref, X} -> From ! {Ref, St + X}, server(St + 1) end.

call(Srv, X) ->
    R = make_ref(),
    Srv ! {call, self(), R, X},
    receive {R, V} -> V end.

client(_Srv, 0, P, Acc) -> P ! {done, Acc};
client(Srv, K, P, Acc) -> client(Srv, K - 1, P, Acc + call(Srv, K) rem 7).

wait_n(0, Acc) -> Acc;
wait_n(K, Acc) -> receive {done, V} -> wait_n(K - 1, Acc + V) end.

main([CS, KS]) ->
    C = list_to_integer(CS), K = list_to_integer(KS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    Srv = spawn(fun() -> server(0) end),
    [spawn(fun() -> client(Srv, K, Me, 0) end) || _ <- lists:seq(1, C)],
    wait_n(C, 0),
    io:format("RESULT value=~b unit=ms calls=~b~n",
              [erlang:monotonic_time(millisecond) - T0, C * K]),
    erlang:halt(0).
