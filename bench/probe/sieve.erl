-module(sieve).
-export([main/1]).
filter_loop(P, Next) ->
    receive
        {done, From, Count, Sum} ->
            case Next of
                none -> From ! {result, Count + 1, Sum + P};
                _ -> Next ! {done, From, Count + 1, Sum + P}
            end;
        N when N rem P =:= 0 -> filter_loop(P, Next);
        N when Next =:= none -> filter_loop(P, spawn(fun() -> filter_loop(N, none) end));
        N -> Next ! N, filter_loop(P, Next)
    end.
gen(I, N, First) when I =< N -> First ! I, gen(I + 1, N, First);
gen(_, _, _) -> ok.
main([NS]) ->
    N = list_to_integer(NS),
    T0 = erlang:monotonic_time(millisecond),
    First = spawn(fun() -> filter_loop(2, none) end),
    gen(3, N, First),
    First ! {done, self(), 0, 0},
    R = receive {result, C, S} -> io_lib:format("~b/~b", [C, S]) end,
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~s elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
