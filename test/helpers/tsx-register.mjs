// tsx for every thread: `--import tsx` registers its hooks on the main thread only (Node 20), and the
// combined node runs its satellite on a worker thread, which inherits this `--import` and runs it too.
import { register } from 'tsx/esm/api'

register()
