%% btables: the tables workload on ETS (peer of bench/tables.shoal).
%%   erl -noshell +S 1 -pa EBIN -run btables main int N
%%   erl -noshell +S 1 -pa EBIN -run btables main str N
%%   erl -noshell +S 2 -pa EBIN -run btables main counter K N
%% A `set` table with read and write concurrency (BENCH.md). int: keys and
%% values 1..N; str: keys <<"abc", I>> (binaries: shoal's strings are byte
%% strings), float values 1.5 * I. Each phase is timed alone, with the
%% keys made inside the loops as in the shoal program. counter: one
%% process per scheduler, spawned and ready before the clock starts.
-module(btables).
-export([main/1]).

opts() -> [set, public, {read_concurrency, true}, {write_concurrency, true}].

ins_int(T, I, N) when I =< N -> ets:insert(T, {I, I}), ins_int(T, I + 1, N);
ins_int(_, _, _) -> ok.
get_int(T, I, N, Acc) when I =< N ->
    V = case ets:lookup(T, I) of [{_, X}] -> X; [] -> 0 end,
    get_int(T, I + 1, N, Acc + V);
get_int(_, _, _, Acc) -> Acc.
del_int(T, I, N) when I =< N -> ets:delete(T, I), del_int(T, I + 1, N);
del_int(_, _, _) -> ok.

key(I) -> <<"abc", (integer_to_binary(I))/binary>>.
ins_str(T, I, N) when I =< N -> ets:insert(T, {key(I), 1.5 * I}), ins_str(T, I + 1, N);
ins_str(_, _, _) -> ok.
get_str(T, I, N, Acc) when I =< N ->
    V = case ets:lookup(T, key(I)) of [{_, X}] -> X; [] -> 0.0 end,
    get_str(T, I + 1, N, Acc + V);
get_str(_, _, _, Acc) -> Acc.
del_str(T, I, N) when I =< N -> ets:delete(T, key(I)), del_str(T, I + 1, N);
del_str(_, _, _) -> ok.

nowns() -> erlang:monotonic_time(nanosecond).

report(Phase, Ns, N) ->
    io:format("RESULT phase=~s value=~.1f unit=ns/op elapsed_ms=~.3f count=~b~n",
              [Phase, Ns / N, Ns / 1.0e6, N]).

one_process(Kind, N) ->
    T = ets:new(bt, opts()),
    {Ins, Get, Del, Zero} = case Kind of
        "int" -> {fun ins_int/3, fun get_int/4, fun del_int/3, 0};
        "str" -> {fun ins_str/3, fun get_str/4, fun del_str/3, 0.0}
    end,
    T0 = nowns(),
    Ins(T, 1, N),
    T1 = nowns(),
    Words = ets:info(T, memory),
    Size = ets:info(T, size),
    Sum = Get(T, 1, N, Zero),
    T2 = nowns(),
    Del(T, 1, N),
    T3 = nowns(),
    report("insert", T1 - T0, N),
    report("lookup", T2 - T1, N),
    report("delete", T3 - T2, N),
    io:format("RESULT phase=memory value=~.1f unit=bytes/entry count=~b checksum=~p left=~b~n",
              [Words * erlang:system_info(wordsize) / N, Size, Sum, ets:info(T, size)]).

count_up(_, I, N, _) when I >= N -> ok;
count_up(T, I, N, K) -> ets:update_counter(T, I rem K, 1, {I rem K, 0}), count_up(T, I + 1, N, K).

counters(K, N) ->
    T = ets:new(bc, opts()),
    Parent = self(),
    P = erlang:system_info(schedulers_online),
    Ws = [spawn(fun() -> Parent ! ready, receive go -> count_up(T, 0, N, K) end, Parent ! done end)
          || _ <- lists:seq(1, P)],
    [receive ready -> ok end || _ <- Ws],
    T0 = nowns(),
    [W ! go || W <- Ws],
    [receive done -> ok end || _ <- Ws],
    T1 = nowns(),
    Total = lists:sum([V || {_, V} <- ets:tab2list(T)]),
    io:format("RESULT phase=counter value=~.1f unit=ns/update elapsed_ms=~.3f processes=~b "
              "total=~b expected=~b schedulers=~b~n",
              [(T1 - T0) / (N * P), (T1 - T0) / 1.0e6, P, Total, N * P, P]).

main(["counter", KS, NS]) ->
    counters(list_to_integer(KS), list_to_integer(NS)),
    erlang:halt(0);
main([Kind, NS]) ->
    one_process(Kind, list_to_integer(NS)),
    erlang:halt(0).
