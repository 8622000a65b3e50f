# Lists the nftables tables of the network namespace it runs in, one per line: "<family> <name>"
# (family: 1 inet, 2 ip, 10 ip6), read from the kernel over netlink (NFT_MSG_GETTABLE, a dump) —
# the lab's host has no nft program, and a partition's table is the agent's own (inet CHAOS-<id>).
# Run inside a pod's namespace: nsenter -t PID -n python3 test/support/nft-tables.py
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETTABLE = 1
NLM_F_REQUEST_DUMP = 0x301
NLMSG_ERROR, NLMSG_DONE = 2, 3
NFTA_TABLE_NAME = 1

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
body = struct.pack("BBH", 0, 0, 0)  # nfgenmsg: any family
s.send(struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, NLM_F_REQUEST_DUMP, 1, 0) + body)
out = []
done = False
while not done:
    data = s.recv(1 << 16)
    off = 0
    while off < len(data) and not done:
        length, kind = struct.unpack_from("=IH", data, off)
        if kind == NLMSG_DONE:
            done = True
        elif kind == NLMSG_ERROR:
            err = struct.unpack_from("=i", data, off + 16)[0]
            if err != 0:
                sys.exit(f"netlink error {err}")
            done = True
        else:
            family = data[off + 16]
            a = off + 20
            while a + 4 <= off + length:
                alen, atype = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if atype & 0x7FFF == NFTA_TABLE_NAME:
                    out.append(f"{family} {data[a + 4:a + alen].rstrip(bytes(1)).decode()}")
                a += (alen + 3) & ~3
        off += (length + 3) & ~3
print("\n".join(out))
