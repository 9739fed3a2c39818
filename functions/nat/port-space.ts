/**
 * Constants of the NAT's external port spaces (`PortAllocator`), in a module of their own so
 * that esbuild inlines them into images.
 */

/** `PortAllocator.allocate` result when every port of the protocol is taken. */
export const PORT_EXHAUSTED = -1;

/** Words of a 65536-bit bitmap (one per protocol and pool address). */
export const WORDS_PER_ADDRESS = 2048;
