// Node side: the RTC* classes from @roamhq/wrtc, named as webrtc-polyfill exports them.
import wrtc from '@roamhq/wrtc'

export const {
  RTCPeerConnection,
  RTCSessionDescription,
  RTCIceCandidate,
  RTCDataChannel,
  MediaStream,
  MediaStreamTrack
} = wrtc
export default wrtc
