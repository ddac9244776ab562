%% bfib: naive Fibonacci in one process (peer of bench/fib.shoal).
%%   erl -noshell +S 1 -pa EBIN -run bfib main N K
%% Computes fib(N) K times in the timed section; prints ms per fib(N), of
%% CPU time (statistics(runtime): the CPU time of the whole runtime, as
%% os.clock in Lua and cpu-us in shoal), and the wall time as well.
-module(bfib).
-export([main/1]).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).

repeat(0, _N, R) -> R;
repeat(K, N, _R) -> repeat(K - 1, N, fib(N)).

main([NS, KS]) ->
    N = list_to_integer(NS), K = list_to_integer(KS),
    W0 = erlang:monotonic_time(microsecond),
    {T0, _} = statistics(runtime),
    R = repeat(K, N, 0),
    {T1, _} = statistics(runtime),
    W1 = erlang:monotonic_time(microsecond),
    io:format("fib ~b = ~b~n", [N, R]),
    io:format("RESULT value=~.3f unit=ms cpu_ms=~b wall_ms=~.3f count=~b~n",
              [(T1 - T0) / K, T1 - T0, (W1 - W0) / 1000, K]),
    erlang:halt(0).
