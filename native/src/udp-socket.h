// Batched UDP sockets over the packet pool: recvmmsg/sendmmsg straight into and out of pool
// memory named by descriptors (integers in a Uint32Array), and readiness through uv_poll on
// the calling thread's event loop. No per-packet object crosses into JavaScript.
#pragma once
#include <node_api.h>

namespace nfvkit {

// Words per descriptor and their meaning; exported to JavaScript as `layout`.
constexpr unsigned kDescWords = 6;
// Receive: offset and capacity in; length (the datagram's full size), source address
// (IPv4, host order), source port and flags out.
constexpr unsigned kRxOffset = 0, kRxCapacity = 1, kRxLength = 2, kRxAddress = 3, kRxPort = 4, kRxFlags = 5;
// Send: offset, length, destination address (0: the connected peer) and port in; status out
// (0 sent, otherwise the errno that refused this datagram).
constexpr unsigned kTxOffset = 0, kTxLength = 1, kTxAddress = 2, kTxPort = 3, kTxStatus = 4;
constexpr unsigned kRxFlagTruncated = 1;
constexpr unsigned kMaxBatch = 1024;
constexpr unsigned kMaxDatagram = 65507;
constexpr unsigned kMaxGsoSegments = 64;

void RegisterUdpSocket(napi_env env, napi_value exports);
// The socket's fd, or -1 with a JavaScript exception pending (for the readiness module).
int UdpSocketFd(napi_env env, napi_value handle);

}  // namespace nfvkit
