# mixed: idle processes, a chatty pair placed apart, and CPU work arriving
# in waves from VM 0 and VM 1.
#   shoal simulate --topology "pack:2 numa:2 core:2 pu:1" --policy steal --workload examples/workloads/mixed.wl
proc sleeper count=100 vm=0 idle
proc echo count=1 vm=3 serve=0.002
proc chatter count=1 vm=0 talk=echo rounds=100000 think=0.002
proc wave1 count=32 from=0 cpu=5 jitter=20
proc wave2 count=32 from=1 at=20 cpu=5 jitter=20
