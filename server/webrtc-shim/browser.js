// Browser side: the browser's own WebRTC.
export const RTCPeerConnection = globalThis.RTCPeerConnection
export const RTCSessionDescription = globalThis.RTCSessionDescription
export const RTCIceCandidate = globalThis.RTCIceCandidate
export const RTCDataChannel = globalThis.RTCDataChannel
export const MediaStream = globalThis.MediaStream
export const MediaStreamTrack = globalThis.MediaStreamTrack
export default globalThis
