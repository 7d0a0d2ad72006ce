/**
 * Blockyard's client library: a typed client for the controller's REST API (LINSTOR v1), its errors and
 * the JSON shapes. This is what `import … from 'blockyard'` gives other programs.
 */
export { BlockyardClient, controllerUrl, controllerUrls, parseReplyJson, DEFAULT_CONTROLLER, DEFAULT_PORT, DEFAULT_TLS_PORT } from './blockyard-client.js'
export type { ClientOptions, ListFilter } from './blockyard-client.js'
export { ApiCallError, ConnectionError, UnexpectedReplyError, isErrorRc, rcSeverity } from './errors.js'
export type * from './types.js'
export { EventSubscription, eventsUrl, subscribeEvents } from './events.js'
export type { BlockyardEvent, ConnectInfo, DisconnectInfo, EventAction, EventHandlers, EventKind, EventNames, EventObjects, ResyncInfo, SubscribeOptions } from './events.js'
