%% builtins.shoal in Erlang: erlc builtins.erl && erl -noshell -s builtins main -s init stop
-module(builtins).
-export([main/0]).
rep(_F, 0, Acc) -> Acc;
rep(F, R, Acc) -> rep(F, R - 1, F(R, Acc)).
timed(Name, Th) ->
    T0 = erlang:monotonic_time(millisecond), V = Th(), T1 = erlang:monotonic_time(millisecond),
    io:format("~s ~p ~p~n", [Name, T1 - T0, V]).
main() ->
    M = #{count => 0, name => "x", items => [], total => 5, limit => 100},
    L1 = lists:seq(1, 1000), L2 = lists:seq(1, 1000),
    T10 = erlang:make_tuple(10, 0),
    timed("map-of-3-atoms-x1M", fun() -> rep(fun(I, Acc) -> Acc + map_size(#{a => I, b => 2, c => 3}) end, 1000000, 0) end),
    timed("map-put-existing-x1M", fun() -> maps:get(count, rep(fun(I, Acc) -> Acc#{count := I} end, 1000000, M)) end),
    timed("map-get-x1M", fun() -> rep(fun(_I, Acc) -> Acc + maps:get(total, M, 0) end, 1000000, 0) end),
    timed("map-put-new-get-x1M", fun() -> rep(fun(I, Acc) -> Acc + maps:get(d, M#{d => I}, 0) end, 1000000, 0) end),
    timed("map-pattern-x1M", fun() -> rep(fun(_I, Acc) -> #{total := T, limit := L} = M, Acc + T + L end, 1000000, 0) end),
    timed("equal-1k-lists-x20k", fun() -> rep(fun(_I, Acc) -> case L1 =:= L2 of true -> Acc + 1; false -> Acc end end, 20000, 0) end),
    timed("set-elem-10-x1M", fun() -> element(4, rep(fun(I, Acc) -> setelement(4, Acc, I) end, 1000000, T10)) end),
    timed("str-float-x200k", fun() -> rep(fun(I, Acc) -> Acc + string:length(io_lib:format("~p", [I / 7.0])) end, 200000, 0) end).
