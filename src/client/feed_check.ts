// Is the socket's peer a depthcast feed at all? Frames the client cannot use
// are dropped one by one (each an error event of kind 'decode'), but a socket
// whose first frames are all unusable is not a feed that sent one bad frame:
// it is another service (a JSON ticker, an echo server, a proxy's error page
// over WebSocket) or a feed of an incompatible protocol version. Then the
// client says so once, with a code, and drops the socket (FeedClient): it is
// retried with backoff like any lost connection (the next of several URLs,
// or the same one after a deploy), and no book ever sees its bytes.
//
// Cost per frame: one comparison. Invariant: counts are of the current
// socket only (opened() resets them); one verdict per socket.
import { client_error_code } from './counters.js';

/** Unusable frames, with none usable before them on a socket, that make it not a feed. */
export const unusable_frames_max = 3;

export class FeedCheck {
  private usable = 0;
  private unusable = 0;
  private unknown_messages = 0;

  /** A new socket: nothing known about its peer yet. */
  opened(): void {
    this.usable = 0;
    this.unusable = 0;
    this.unknown_messages = 0;
  }

  /** A frame decoded: the peer speaks depthcast. */
  usable_frame(): void {
    this.usable++;
  }

  /**
   * A frame that could not be used, by its client_error_code. Returns the
   * verdict about the peer (not_a_feed or incompatible_protocol) once the
   * socket has sent unusable_frames_max of them and nothing usable; else 0.
   */
  unusable_frame(code: number): number {
    if (this.usable > 0) return 0;
    this.unusable++;
    if (code === client_error_code.unknown_message) this.unknown_messages++;
    if (this.unusable !== unusable_frames_max) return 0;
    // Well-formed Frames of types we do not know, and nothing else: a feed of a newer protocol.
    return this.unknown_messages === this.unusable ? client_error_code.incompatible_protocol : client_error_code.not_a_feed;
  }
}
