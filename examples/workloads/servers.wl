# servers: 200 message-driven servers spawned on VM 0 and 400 clients
# placed by the policy, each talking to one server with some thinking in
# between; only rebalancing of waiting processes spreads the servers.
#   shoal simulate --topology "pack:1 core:4 pu:1" --policy least-loaded --workload examples/workloads/servers.wl
proc server count=200 vm=0 serve=0.02
proc client count=400 talk=server rounds=500 think=0.05
