// Node side: the RTC* classes from @roamhq/wrtc, named as webrtc-polyfill exports them.
import wrtc from '@roamhq/wrtc'

// wrtc's native teardown crashes (SIGSEGV/SIGABRT) when a process that used it winds down by
// itself; calling process.exit from the 'exit' event goes straight to the OS exit and skips that
// teardown (measured: 12 of 12 natural exits crashed after seeding over WebRTC, 0 of 12 with this).
// 'exit' rather than 'beforeExit', so node:test still sees and reports a test left hanging.
process.once('exit', () => process.exit())

export const {
  RTCPeerConnection,
  RTCSessionDescription,
  RTCIceCandidate,
  RTCDataChannel,
  MediaStream,
  MediaStreamTrack
} = wrtc
export default wrtc
