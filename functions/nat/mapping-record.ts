/**
 * The layout of one NAT mapping record (`NatMappingTable`): 16 32-bit words, one 64-byte
 * cache line, in memory the host owns (a failed instance's successor reads it). Constants
 * in a module of their own so that esbuild inlines them into the image.
 *
 * ```
 * word 0 internal address (NAT64: the fold of the IPv6 address)   1 proto << 16 | port (| V6_KEY)
 *      2 external address  3 external port  4 external key  5 flags  6 list  7 prev  8 next
 *      9 index hash  10…13 NAT64 internal IPv6 address  14…15 expiry (Float64 index 7)
 * ```
 */

/** 32-bit words per entry: one 64-byte cache line holds a whole mapping. */
export const STRIDE = 16;
/** Internal IPv4 address (NAT64: the fold of the IPv6 one). */
export const W_INT_ADDR = 0;
/** `proto << 16 | internal port`: protocol and port compared at once. */
export const W_INT_KEY = 1;
/** External address. */
export const W_EXT_ADDR = 2;
/** External port / ICMP identifier. */
export const W_EXT_PORT = 3;
/** External endpoint's `PortAllocator` key. */
export const W_EXT_KEY = 4;
/** `FLAG_*` bits. */
export const W_FLAGS = 5;
/** Expiry list (`LIST_*`). */
export const W_LIST = 6;
/** Previous entry in the expiry list, or -1. */
export const W_PREV = 7;
/** Next entry in the expiry list, or -1. */
export const W_NEXT = 8;
/** Index hash of the internal endpoint. */
export const W_HASH = 9;
/** NAT64: the internal IPv6 address, four words (10…13); `W_INT_ADDR` then holds their fold. */
export const W_INT6 = 10;
/** Float64 index of the expiry within an entry (bytes 56…63). */
export const F_EXPIRES = 7;
/** `W_INT_KEY` of a free entry (no protocol index is this large). */
export const FREE_KEY = 0xffffffff;
/** `W_INT_KEY` bit of a NAT64 mapping (internal endpoint IPv6): never equal to an IPv4 key. */
export const V6_KEY = 0x01000000;

/** Expiry list of TCP mappings no packet came back in on (or closing): the transitory timeout. */
export const LIST_TCP_TRANSITORY = 0;
/** Expiry list of established TCP mappings. */
export const LIST_TCP_ESTABLISHED = 1;
/** Expiry list of UDP mappings. */
export const LIST_UDP = 2;
/** Expiry list of ICMP echo mappings. */
export const LIST_ICMP = 3;
/** "In no list": static mappings (port forwards) never expire. */
export const LIST_NONE = 255;
/** Flag: a port forward, never expires, never removed. */
export const FLAG_STATIC = 1;
/** Flag (TCP): a packet came back from the outside since the mapping's last opening SYN. */
export const FLAG_SEEN_INBOUND = 2;
/** Flag (TCP): FIN or RST seen; transitory until a new SYN. */
export const FLAG_CLOSING = 4;

/** `NatMappingTable.lookup` result when no mapping holds the internal endpoint. */
export const MAPPING_MISS = -1;
/** `NatMappingTable.create` result: every external port of the protocol is held by a live mapping. */
export const MAPPING_PORTS_EXHAUSTED = -2;
/** `NatMappingTable.create` result: `capacity` live dynamic mappings exist. */
export const MAPPING_TABLE_FULL = -3;
