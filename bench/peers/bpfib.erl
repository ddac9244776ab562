%% bpfib: fork-join fib (peer of bench/pfib.shoal). BEAM places the processes.
%%   erl -noshell +S S:S -pa EBIN -run bpfib main N CUTOFF
-module(bpfib).
-export([main/1]).

sfib(N) when N < 2 -> N;
sfib(N) -> sfib(N - 1) + sfib(N - 2).

pfib(N, Cut, Parent) when N < Cut -> Parent ! {r, sfib(N)};
pfib(N, Cut, Parent) ->
    Me = self(),
    spawn(fun() -> pfib(N - 1, Cut, Me) end),
    spawn(fun() -> pfib(N - 2, Cut, Me) end),
    receive {r, A} -> receive {r, B} -> Parent ! {r, A + B} end end.

main([NS, CS]) ->
    N = list_to_integer(NS), Cut = list_to_integer(CS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    spawn(fun() -> pfib(N, Cut, Me) end),
    receive
        {r, V} ->
            io:format("RESULT value=~b unit=ms fib=~b~n",
                      [erlang:monotonic_time(millisecond) - T0, V])
    end,
    erlang:halt(0).
