/**
 * Constants of the two capture file formats: classic libpcap (draft-ietf-opsawg-pcap) and
 * pcapng (draft-ietf-opsawg-pcapng). Magics are given as read little-endian from the
 * first four bytes of a file.
 */
export const PcapFormat = {
  /** Classic pcap, microsecond timestamps, written little-endian. */
  MAGIC_MICRO_LE: 0xa1b2c3d4,
  /** Classic pcap, microsecond timestamps, written big-endian. */
  MAGIC_MICRO_BE: 0xd4c3b2a1,
  /** Classic pcap, nanosecond timestamps, written little-endian. */
  MAGIC_NANO_LE: 0xa1b23c4d,
  /** Classic pcap, nanosecond timestamps, written big-endian. */
  MAGIC_NANO_BE: 0x4d3cb2a1,
  /** Alexey Kuznetzov's modified pcap (24-byte records), either byte order; not supported. */
  MAGIC_MODIFIED_LE: 0xa1b2cd34,
  MAGIC_MODIFIED_BE: 0x34cdb2a1,
  /** Global header and record header sizes. */
  FILE_HEADER_LEN: 24,
  RECORD_HEADER_LEN: 16,
  /** Link-type field: the link type is the low 16 bits; bit 26 says bits 28-31 hold an FCS length. */
  LINKTYPE_MASK: 0xffff,
  FCS_PRESENT_BIT: 0x04000000,
} as const;

/** pcapng block types and constants. */
export const PcapngFormat = {
  /** Section Header Block type; palindromic, so it reads the same in both byte orders. */
  BLOCK_SHB: 0x0a0d0d0a,
  BLOCK_IDB: 0x00000001,
  /** Obsolete Packet Block. */
  BLOCK_PB: 0x00000002,
  BLOCK_SPB: 0x00000003,
  BLOCK_NRB: 0x00000004,
  BLOCK_ISB: 0x00000005,
  BLOCK_EPB: 0x00000006,
  /** Byte-order magic inside the SHB, as written by the file's producer. */
  BYTE_ORDER_MAGIC: 0x1a2b3c4d,
  /** Option codes used by the reader. */
  OPT_END: 0,
  OPT_IF_NAME: 2,
  OPT_IF_TSRESOL: 9,
  OPT_IF_FCSLEN: 13,
  OPT_IF_TSOFFSET: 14,
  /** Smallest legal block (type, length, trailing length) and smallest SHB. */
  MIN_BLOCK_LEN: 12,
  MIN_SHB_LEN: 28,
} as const;
