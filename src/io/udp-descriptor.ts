/**
 * The descriptor layout of a batched UDP call: one row of `UDP_DESC_WORDS` integers in a
 * `Uint32Array` per datagram, naming pool memory by offset. The native addon declares the
 * same layout and the loader refuses a build whose layout differs (`native-addon.ts`).
 *
 * Receive rows: the caller fills `offset` and `capacity`; the socket fills `length` (the
 * datagram's full size, even when truncated), `address` (IPv4, host order), `port` and
 * `flags` (`UDP_RX_TRUNCATED` when the datagram was larger than `capacity`).
 *
 * Send rows: the caller fills `offset`, `length`, `address` (0: the connected peer) and
 * `port`; the socket writes `status`: 0 sent, otherwise the errno that refused it.
 *
 * @example
 * ```ts
 * const rx = new Uint32Array(64 * UDP_DESC_WORDS);
 * rx[i * UDP_DESC_WORDS + UdpRx.offset] = pool.bufferOffset(id) + 122;
 * ```
 */
export const UDP_DESC_WORDS = 6;

/** Word indices of a receive row. */
export const UdpRx = { offset: 0, capacity: 1, length: 2, address: 3, port: 4, flags: 5 } as const;

/** Word indices of a send row. */
export const UdpTx = { offset: 0, length: 1, address: 2, port: 3, status: 4 } as const;

/** `UdpRx.flags` bit: the datagram was longer than the row's capacity (its tail is lost). */
export const UDP_RX_TRUNCATED = 1;

/** Most rows one call takes. */
export const UDP_MAX_BATCH = 1024;

/** Largest UDP payload over IPv4. */
export const UDP_MAX_DATAGRAM = 65507;
