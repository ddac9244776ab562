-module(bbuf).
-export([main/1]).
lcg(X) -> (X * 1103515245 + 12345) rem 2147483648.
work(X, 0) -> X;
work(X, I) -> work(lcg(X), I - 1).
producer(Mgr, 0, _X) -> Mgr ! {pdone, self()};
producer(Mgr, N, X) ->
    X1 = work(X, 10),
    Mgr ! {data, X1 rem 1000, self()},
    receive more -> producer(Mgr, N - 1, X1) end.
consumer(Mgr, Main, Acc) ->
    Mgr ! {ready, self()},
    receive
        {item, V} -> consumer(Mgr, Main, Acc + work(V, 10) rem 1000);
        stop -> Main ! {cdone, Acc}
    end.
qpush({F, B}, X) -> {F, [X | B]}.
qpop({[], B}) -> [H | T] = lists:reverse(B), {H, {T, []}};
qpop({[H | T], B}) -> {H, {T, B}}.
qempty({[], []}) -> true;
qempty(_) -> false.
mgr(_Data, Cons, _Held, 0, _B, 0, NC) -> mgr_stop(Cons, NC);
mgr(Data, Cons, Held, N, B, Live, NC) ->
    receive
        {data, V, P} ->
            case qempty(Cons) of
                true when N < B -> P ! more, mgr(qpush(Data, V), Cons, Held, N + 1, B, Live, NC);
                true -> mgr(qpush(Data, V), Cons, qpush(Held, P), N + 1, B, Live, NC);
                false -> {C, Cons1} = qpop(Cons), C ! {item, V}, P ! more, mgr(Data, Cons1, Held, N, B, Live, NC)
            end;
        {ready, C} when N =:= 0 -> mgr(Data, qpush(Cons, C), Held, N, B, Live, NC);
        {ready, C} ->
            {D, Data1} = qpop(Data),
            C ! {item, D},
            case qempty(Held) of
                true -> mgr(Data1, Cons, Held, N - 1, B, Live, NC);
                false -> {H, Held1} = qpop(Held), H ! more, mgr(Data1, Cons, Held1, N - 1, B, Live, NC)
            end;
        {pdone, _} -> mgr(Data, Cons, Held, N, B, Live - 1, NC)
    end.
mgr_stop(_, 0) -> ok;
mgr_stop(Cons, K) ->
    case qempty(Cons) of
        true -> receive {ready, C} -> C ! stop, mgr_stop(Cons, K - 1) end;
        false -> {C, Cons1} = qpop(Cons), C ! stop, mgr_stop(Cons1, K - 1)
    end.
collect(0, Acc) -> Acc;
collect(N, Acc) -> receive {cdone, R} -> collect(N - 1, Acc + R) end.
main([PS, CS, NS, BS]) ->
    [P, C, N, B] = [list_to_integer(X) || X <- [PS, CS, NS, BS]],
    T0 = erlang:monotonic_time(millisecond),
    Me = self(),
    M = spawn(fun() -> mgr({[], []}, {[], []}, {[], []}, 0, B, P, C) end),
    [spawn(fun() -> producer(M, N, I + 1) end) || I <- lists:seq(0, P - 1)],
    [spawn(fun() -> consumer(M, Me, 0) end) || _ <- lists:seq(0, C - 1)],
    R = collect(C, 0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
