// Node side: the RTC* classes from @roamhq/wrtc, named as webrtc-polyfill exports them.
import wrtc from '@roamhq/wrtc'

// wrtc's native teardown crashes (SIGSEGV/SIGABRT) when a process that used it winds down by
// itself; leaving through process.exit skips that teardown. Measured: 12 of 12 natural exits
// crashed after seeding over WebRTC, 0 of 12 explicit ones.
process.once('beforeExit', code => process.exit(process.exitCode ?? code))

export const {
  RTCPeerConnection,
  RTCSessionDescription,
  RTCIceCandidate,
  RTCDataChannel,
  MediaStream,
  MediaStreamTrack
} = wrtc
export default wrtc
