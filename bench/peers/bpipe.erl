%% bpipe: a pipeline of S stages (peer of bench/pipe.shoal).
%%   erl -noshell +S S:S -pa EBIN -run bpipe main N S
-module(bpipe).
-export([main/1]).

stage(Next) -> receive eof -> Next ! eof; X -> Next ! X + 1, stage(Next) end.

sink(Acc, P) -> receive eof -> P ! {sum, Acc}; X -> sink(Acc + X, P) end.

build(0, Next) -> Next;
build(S, Next) -> build(S - 1, spawn(fun() -> stage(Next) end)).

feed(P, 0) -> P ! eof;
feed(P, K) -> P ! K, feed(P, K - 1).

main([NS, SS]) ->
    N = list_to_integer(NS), S = list_to_integer(SS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    First = build(S, spawn(fun() -> sink(0, Me) end)),
    feed(First, N),
    receive
        {sum, V} ->
            io:format("RESULT value=~b unit=ms sum=~b~n",
                      [erlang:monotonic_time(millisecond) - T0, V])
    end,
    erlang:halt(0).
