/** Int32 word indices of the stats block shared by the cross-worker test and its device worker. */
export const S_STOP = 0;
export const S_READY = 1;
export const S_RECEIVED = 2;
export const S_OUT_OF_ORDER = 3;
export const S_DUPLICATES = 4;
export const S_BAD_OWNER = 5;
export const S_BAD_LEN = 6;
export const S_DISTINCT = 7;
export const S_KICKS = 8;
export const S_SLEEPS = 9;
