-module(strs).
-export([main/1]).
i2b(I) -> integer_to_binary(I).
rec1(I, J) ->
    S = iolist_to_binary(["key-", i2b(I), "-", i2b(J), ":", i2b(I * J)]),
    Parts = binary:split(S, <<":">>, [global]),
    Head = binary:split(hd(Parts), <<"-">>, [global]),
    A = binary_to_integer(lists:nth(2, Head)),
    B = binary_to_integer(lists:nth(3, Head)),
    C = binary_to_integer(lists:nth(2, Parts)),
    Joined = iolist_to_binary(lists:join(<<"/">>, [lists:nth(1, Head), lists:nth(3, Head), lists:nth(2, Head)])),
    byte_size(Joined) + A + B + C.
wloop(_I, N, N, Acc) -> Acc;
wloop(I, J, N, Acc) -> wloop(I, J + 1, N, (Acc + rec1(I, J)) rem 1000000007).
worker(I, N, Master) -> Master ! {sum, I, wloop(I, 0, N, 0)}.
mloop(N, N, M) -> M;
mloop(J, N, M) -> mloop(J + 1, N, maps:put(iolist_to_binary(["k", i2b(J)]), binary_to_atom(iolist_to_binary(["a", i2b(J rem 50)])), M)).
collect(W, W, Acc) -> Acc;
collect(I, W, Acc) -> receive {sum, I, V} -> collect(I + 1, W, (Acc * 3 + V) rem 1000000007) end.
main([WS, NS]) ->
    W = list_to_integer(WS), N = list_to_integer(NS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    [spawn(fun() -> worker(I, N, Me) end) || I <- lists:seq(0, W - 1)],
    M = mloop(0, N, #{}),
    R = collect(0, W, 0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b/~b/~s elapsed_ms=~b~n", [R, maps:size(M), maps:get(<<"k77">>, M, none), T1 - T0]),
    erlang:halt(0).
