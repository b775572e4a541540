%% Erlang/OTP side of benches/compare.sh: the same workloads as pyact's benches, each timed
%% inside the program and printed as `key value` lines the script parses.
%%
%%   erlc -o /tmp benches/erlang/bench.erl
%%   erl -noshell -pa /tmp +P 2000000 -run bench main ring 10000
%%   erl -noshell -pa /tmp -run bench main spawn 10000
%%   erl -noshell -pa /tmp -run bench main pingpong 200000
%%   erl -noshell -pa /tmp -run bench main idle 100000
%%   erl -noshell -pa /tmp -run bench main idle_hibernated 100000
%%   erl -noshell -pa /tmp -name serve@127.0.0.1 -setcookie c -run bench main serve
%%   erl -noshell -pa /tmp -name send@127.0.0.1 -setcookie c -run bench main oneway serve@127.0.0.1 200000
%%   erl -noshell -pa /tmp -name send@127.0.0.1 -setcookie c -run bench main roundtrip serve@127.0.0.1 10000
-module(bench).
-export([main/1, wait_any/0]).

main([Cmd | Args]) ->
    try run(Cmd, Args) of
        _ -> halt(0)
    catch
        C:E:St ->
            io:format(standard_error, "bench ~s failed: ~p:~p~n~p~n", [Cmd, C, E, St]),
            halt(1)
    end.

us(T0) -> erlang:monotonic_time(nanosecond) - T0.
now_ns() -> erlang:monotonic_time(nanosecond).
int(S) -> list_to_integer(S).
kv(K, V) when is_float(V) -> io:format("~s ~.6f~n", [K, V]);
kv(K, V) -> io:format("~s ~p~n", [K, V]).

run("ring", [NS]) ->
    N = int(NS),
    Self = self(),
    T0 = now_ns(),
    Last = build(N, Self),
    Build = us(T0),
    T1 = now_ns(),
    Last ! {text, <<"hello around the ring">>},
    receive {text, _} -> ok end,
    Pass = us(T1),
    kv("n", N),
    kv("build_s", Build / 1.0e9),
    kv("pass_s", Pass / 1.0e9),
    kv("us_per_spawn", Build / 1.0e3 / N),
    kv("us_per_hop", Pass / 1.0e3 / N);

run("spawn", [NS]) ->
    %% spawn N processes that end at once, then wait for each one's end (a monitor's 'DOWN',
    %% the equivalent of pyact's Node::wait), median of rounds in the script.
    N = int(NS),
    spawn_round(N), % warm-up
    T0 = now_ns(),
    spawn_round(N),
    T = us(T0),
    kv("n", N),
    kv("us_per_actor", T / 1.0e3 / N);

run("pingpong", [NS]) ->
    N = int(NS),
    Me = self(),
    Ponger = spawn(fun Loop() -> receive stop -> ok; V -> Me ! V, Loop() end end),
    V0 = #{<<"ping">> => <<"pong">>},
    pingpong(1000, Ponger, V0), % warm-up
    T0 = now_ns(),
    pingpong(N, Ponger, V0),
    T = us(T0),
    Ponger ! stop,
    kv("n", N),
    kv("us_per_round_trip", T / 1.0e3 / N);

run("idle", [NS]) ->
    %% resident memory of N processes blocked in receive (VmRSS before/after, like
    %% benches/memory.rs)
    idle(int(NS), fun wait_any/0);

run("idle_hibernated", [NS]) ->
    %% the same, each process hibernated (erlang:hibernate/3) before its receive
    idle(int(NS), fun() -> erlang:hibernate(?MODULE, wait_any, []) end);

run("serve", []) ->
    %% the receiving node of the remote benchmarks; runs until its stdin closes
    register(sink, spawn(fun sink/0)),
    io:format("ready ~s~n", [node()]),
    io:get_line(""),
    ok;

run("oneway", [Peer, NS]) ->
    %% N messages one way to a registered process on another node, then one synchronous
    %% message; time from the first send to the acknowledgement of the last.
    N = int(NS),
    Node = list_to_atom(Peer),
    true = net_kernel:connect_node(Node),
    Sink = {sink, Node},
    oneway(1000, Sink), % warm-up
    T0 = now_ns(),
    oneway(N, Sink),
    T = us(T0),
    kv("n", N),
    kv("msgs_per_s", N / (T / 1.0e9));

run("roundtrip", [Peer, NS]) ->
    N = int(NS),
    Node = list_to_atom(Peer),
    true = net_kernel:connect_node(Node),
    Sink = {sink, Node},
    roundtrip(100, Sink), % warm-up
    T0 = now_ns(),
    roundtrip(N, Sink),
    T = us(T0),
    kv("n", N),
    kv("us_per_round_trip", T / 1.0e3 / N).

build(0, Next) -> Next;
build(K, Next) ->
    build(K - 1, spawn(fun() -> receive M -> Next ! M end end)).

spawn_round(N) ->
    Refs = [element(2, spawn_monitor(fun() -> ok end)) || _ <- lists:seq(1, N)],
    [receive {'DOWN', R, process, _, normal} -> ok end || R <- Refs],
    ok.

pingpong(0, _, _) -> ok;
pingpong(K, P, V) ->
    P ! V,
    receive V2 -> pingpong(K - 1, P, V2) end.

sink() ->
    receive
        {sync, From} -> From ! synced, sink();
        {ping, From, I} -> From ! {pong, I}, sink();
        _ -> sink()
    end.

oneway(N, Sink) ->
    Msg = #{<<"seq">> => 0, <<"text">> => <<"one way">>},
    [Sink ! Msg#{<<"seq">> := I} || I <- lists:seq(1, N)],
    Sink ! {sync, self()},
    receive synced -> ok end.

roundtrip(0, _) -> ok;
roundtrip(K, Sink) ->
    Sink ! {ping, self(), K},
    receive {pong, K} -> roundtrip(K - 1, Sink) end.

rss_kib() ->
    {ok, B} = file:read_file("/proc/self/status"),
    [_, Rest] = binary:split(B, <<"VmRSS:">>),
    [Num | _] = binary:split(string:trim(Rest), <<" ">>),
    binary_to_integer(Num).

%% N processes that say they are up, then Wait(): resident KiB each.
idle(N, Wait) ->
    Before = rss_kib(),
    Me = self(),
    Pids = [spawn(fun() -> Me ! up, Wait() end) || _ <- lists:seq(1, N)],
    [receive up -> ok end || _ <- Pids],
    timer:sleep(50),
    After = rss_kib(),
    [P ! go || P <- Pids],
    kv("n", N),
    kv("kib_per_actor", (After - Before) / N).

%% how an idle process waits (where a hibernated one wakes: erlang:hibernate/3 calls it
%% with an empty stack)
wait_any() ->
    receive _ -> ok end.
