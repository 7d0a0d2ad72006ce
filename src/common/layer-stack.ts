/**
 * LINSTOR's layer stack grammar (`LayerUtils.isLayerKindStackAllowed`): which device layer may sit
 * directly on top of which, top-down, ending in STORAGE, each layer at most once. Used by the controller
 * to check `layer_list` from the REST API and the CLI's `--layer-list`, and by anything that walks a
 * stack.
 */

/** Device layer kinds, as LINSTOR's `DeviceLayerKind`. */
export const LAYER_KINDS = ['DRBD', 'LUKS', 'NVME', 'WRITECACHE', 'CACHE', 'BCACHE', 'STORAGE'] as const
export type LayerKind = (typeof LAYER_KINDS)[number]

/**
 * For each layer, the layers allowed directly below it (LINSTOR's rules). DRBD appears in no list: it can
 * only be the topmost layer. LUKS only sits on STORAGE. Nothing goes below STORAGE.
 */
export const LAYERS_BELOW: Readonly<Record<LayerKind, readonly LayerKind[]>> = Object.freeze({
  DRBD: ['NVME', 'LUKS', 'STORAGE', 'WRITECACHE', 'CACHE', 'BCACHE'],
  LUKS: ['STORAGE'],
  NVME: ['LUKS', 'STORAGE', 'WRITECACHE', 'CACHE', 'BCACHE'],
  WRITECACHE: ['NVME', 'LUKS', 'STORAGE', 'CACHE', 'BCACHE'],
  CACHE: ['NVME', 'LUKS', 'STORAGE', 'WRITECACHE', 'BCACHE'],
  BCACHE: ['NVME', 'LUKS', 'STORAGE', 'WRITECACHE'],
  STORAGE: [],
})

/** Every layer may be the topmost one. */
export const TOP_LAYERS: readonly LayerKind[] = LAYER_KINDS

/**
 * Names LINSTOR's server accepts for each layer (`LinstorParsingUtils.asDeviceLayerKindOrNull`),
 * upper-case. The aliases are old names clients may still send.
 */
const ALIASES: ReadonlyMap<string, LayerKind> = new Map<string, LayerKind>([
  ...LAYER_KINDS.map((k) => [k, k] as [string, LayerKind]),
  ['CRYPT', 'LUKS'],
  ['CRYPT_SETUP', 'LUKS'],
  ['LVM', 'STORAGE'],
  ['SPDK', 'STORAGE'],
  ['ZFS', 'STORAGE'],
])

/** What is wrong with a layer stack. */
export type LayerStackErrorReason =
  | 'UNKNOWN_KIND' // a name that is no layer (LINSTOR: FAIL_INVLD_LAYER_KIND)
  | 'EMPTY' // (the rest: LINSTOR's FAIL_INVLD_LAYER_STACK)
  | 'DUPLICATE'
  | 'NOT_ALLOWED_BELOW'
  | 'MUST_END_WITH_STORAGE'

/**
 * A layer stack that LINSTOR would refuse. `message` says what is wrong, `correction` what would be
 * accepted instead (LINSTOR's ApiCallRc fields of the same names).
 */
export class LayerStackError extends Error {
  override readonly name = 'LayerStackError'
  /** `ERR_LAYER_KIND_INVALID` for an unknown name, `ERR_LAYER_STACK_INVALID` otherwise. */
  readonly code: 'ERR_LAYER_KIND_INVALID' | 'ERR_LAYER_STACK_INVALID'
  constructor(
    readonly reason: LayerStackErrorReason,
    message: string,
    readonly correction: string,
    /** The stack as given, for the error's details. */
    readonly layerStack: readonly unknown[],
    /** 0-based position of the offending entry, when one is to blame. */
    readonly index?: number,
  ) {
    super(message)
    this.code = reason === 'UNKNOWN_KIND' ? 'ERR_LAYER_KIND_INVALID' : 'ERR_LAYER_STACK_INVALID'
  }
}

const VALID_NAMES = LAYER_KINDS.join(', ')

function render(stack: readonly unknown[]): string {
  return `[${stack.map((s) => (typeof s === 'string' ? s.trim().toUpperCase() : String(s))).join(', ')}]`
}

/**
 * The layer named `name` (case-insensitive, surrounding blanks ignored, LINSTOR's aliases accepted), or
 * `undefined` when it names none.
 */
export function layerKindOf(name: string): LayerKind | undefined {
  return ALIASES.get(name.trim().toUpperCase())
}

/**
 * Splits and maps a layer list without checking the grammar. Accepts an array of names, as the REST API
 * sends (`["drbd","storage"]`), or one comma-separated string, as the CLI takes it (`"DRBD,STORAGE"`).
 *
 * @throws LayerStackError (`UNKNOWN_KIND`) for a name that is not a layer
 * @throws TypeError when `input` is neither a string nor an array
 */
export function parseLayerStack(input: string | readonly unknown[]): LayerKind[] {
  let items: readonly unknown[]
  if (typeof input === 'string') items = input.trim() === '' ? [] : input.split(',')
  else if (Array.isArray(input)) items = input
  else {
    const got = input === null ? 'null' : typeof input
    throw new TypeError(`a layer stack must be a string or an array, got ${got}`)
  }
  return items.map((item, i) => {
    const kind = typeof item === 'string' ? layerKindOf(item) : undefined
    if (kind === undefined) {
      let shown = JSON.stringify(item)
      if (typeof item === 'string') shown = item.trim() === '' ? 'an empty name' : `'${item.trim()}'`
      throw new LayerStackError(
        'UNKNOWN_KIND',
        `The layer stack ${render(items)} is invalid: ${shown} at position ${i + 1} is not a layer kind`,
        `Use layer kinds from: ${VALID_NAMES}`,
        items,
        i,
      )
    }
    return kind
  })
}

/** Upper-case human list of the layers allowed below `parent`, minus those already used. */
function allowedBelowText(parent: LayerKind, used: ReadonlySet<LayerKind>): string {
  const options = LAYERS_BELOW[parent].filter((k) => !used.has(k))
  return options.length === 0 ? 'nothing' : options.join(', ')
}

/** The layers under which `kind` may sit directly. */
export function layersAbove(kind: LayerKind): LayerKind[] {
  return LAYER_KINDS.filter((p) => LAYERS_BELOW[p].includes(kind))
}

/**
 * Parses and checks a layer stack; returns it as layer kinds, top-down.
 *
 * @throws LayerStackError with the reason, a message naming the offending layer and position, and a
 *   correction listing what would be valid there
 * @throws TypeError when `input` is neither a string nor an array
 */
export function validateLayerStack(input: string | readonly unknown[]): LayerKind[] {
  const stack = parseLayerStack(input)
  const given: readonly unknown[] = typeof input === 'string' ? stack : input
  const prefix = `The layer stack ${render(given)} is invalid`
  if (stack.length === 0) {
    throw new LayerStackError(
      'EMPTY',
      `${prefix}: it is empty`,
      'Give at least STORAGE (e.g. DRBD,STORAGE), or omit the layer list to get the default',
      given,
    )
  }
  const firstAt = new Map<LayerKind, number>()
  stack.forEach((kind, i) => {
    const first = firstAt.get(kind)
    if (first !== undefined) {
      throw new LayerStackError(
        'DUPLICATE',
        `${prefix}: ${kind} appears twice (positions ${first + 1} and ${i + 1})`,
        `Each layer may appear only once; remove the ${kind} at position ${i + 1}`,
        given,
        i,
      )
    }
    firstAt.set(kind, i)
  })
  const used = new Set<LayerKind>()
  for (let i = 1; i < stack.length; i++) {
    const parent = stack[i - 1]!
    const kind = stack[i]!
    used.add(parent)
    if (!LAYERS_BELOW[parent].includes(kind)) {
      const above = layersAbove(kind)
      const whereKindFits =
        above.length === 0
          ? `${kind} can only be the topmost layer`
          : `${kind} may sit directly below ${above.join(', ')}`
      const message =
        parent === 'STORAGE'
          ? `${prefix}: ${kind} cannot be placed below STORAGE, which must be the last layer`
          : `${prefix}: ${kind} cannot be placed directly below ${parent}`
      throw new LayerStackError(
        'NOT_ALLOWED_BELOW',
        message,
        `Directly below ${parent} use ${allowedBelowText(parent, used)}; ${whereKindFits}`,
        given,
        i,
      )
    }
  }
  const last = stack[stack.length - 1]!
  if (last !== 'STORAGE') {
    throw new LayerStackError(
      'MUST_END_WITH_STORAGE',
      `${prefix}: it must end with STORAGE, but ends with ${last}`,
      `Append STORAGE: ${[...stack, 'STORAGE'].join(',')}`,
      given,
      stack.length - 1,
    )
  }
  return stack
}

/** Whether `input` is a valid layer stack (see {@link validateLayerStack}); never throws for bad input. */
export function isLayerStackValid(input: string | readonly unknown[]): boolean {
  try {
    validateLayerStack(input)
    return true
  } catch {
    // validateLayerStack throws only LayerStackError and TypeError, both meaning "not a valid stack".
    return false
  }
}

/**
 * Every valid layer stack, top-down, shortest first and in {@link LAYER_KINDS} order within a length.
 * Derived from {@link LAYERS_BELOW}, so the rules have one source.
 */
export function validLayerStacks(): LayerKind[][] {
  const out: LayerKind[][] = []
  const walk = (stack: LayerKind[]): void => {
    const last = stack[stack.length - 1]
    if (last === 'STORAGE') {
      out.push(stack)
      return
    }
    const allowed = last === undefined ? TOP_LAYERS : LAYERS_BELOW[last]
    // Visiting kinds in LAYER_KINDS order yields each length's stacks in that order already.
    for (const kind of LAYER_KINDS) if (allowed.includes(kind) && !stack.includes(kind)) walk([...stack, kind])
  }
  walk([])
  // Array.prototype.sort is stable: shortest first, keeping the order within a length.
  return out.sort((a, b) => a.length - b.length)
}
