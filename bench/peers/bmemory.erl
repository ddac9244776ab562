%% bmemory: bytes per idle process (peer side of the memory workload).
%% Spawns N processes that wait in receive (the parent keeps their pids in
%% a list, as bench/memory.shoal does), waits until every run queue is
%% empty (each process has reached its receive), and reports the growth of
%% erlang:memory(processes) per process: what the allocators really handed
%% out for processes (heaps, stacks, PCBs, the parent's list). Also
%% reported: the mean process_info(P, memory), and the growth of the OS
%% process's resident memory (VmRSS, which counts the allocators' carriers
%% with their free space) per process. Needs +P above N.
%%   erl -noshell +P 2000000 -pa EBIN -run bmemory main N
-module(bmemory).
-export([main/1]).

idle() -> receive stop -> ok end.

%% The same loop as memory.shoal's spawn-all (no lists:seq).
spawn_all(0, Acc) -> Acc;
spawn_all(K, Acc) -> spawn_all(K - 1, [spawn(fun idle/0) | Acc]).

%% Every run queue empty: no process left to run up to its receive. A
%% bounded wait (10 s), never a fixed sleep.
settle(0) -> timeout;
settle(K) ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ -> timer:sleep(1), settle(K - 1)
    end.

%% VmRSS of this OS process in bytes (0 if /proc cannot be read).
rss() ->
    case file:read_file("/proc/self/status") of
        {ok, B} ->
            case re:run(B, "VmRSS:\\s+(\\d+) kB", [{capture, all_but_first, list}]) of
                {match, [K]} -> list_to_integer(K) * 1024;
                nomatch -> 0
            end;
        _ -> 0
    end.

main([NS]) ->
    N = list_to_integer(NS),
    garbage_collect(),
    P0 = erlang:memory(processes),
    R0 = rss(),
    Pids = spawn_all(N, []),
    Settled = settle(10000),
    P1 = erlang:memory(processes),
    R1 = rss(),
    Sum = lists:foldl(fun(P, Acc) ->
                              {memory, B} = erlang:process_info(P, memory),
                              Acc + B
                      end, 0, Pids),
    io:format("RESULT value=~.1f unit=bytes/process count=~b process_info_mean=~.1f "
              "rss_delta_per_process=~.1f settled=~s~n",
              [(P1 - P0) / N, N, Sum / N, (R1 - R0) / N, Settled]),
    erlang:halt(0).
