/** LINSTOR's layer kinds, top to bottom of a typical stack. Grammar lives in layer-stack.ts. */
export type LayerKind = 'DRBD' | 'LUKS' | 'NVME' | 'WRITECACHE' | 'CACHE' | 'BCACHE' | 'STORAGE'
export const LAYER_KINDS: readonly LayerKind[] = ['DRBD', 'LUKS', 'NVME', 'WRITECACHE', 'CACHE', 'BCACHE', 'STORAGE']
