// At most one draw per animation frame, and none for a hidden page.
//
// Every SDK event calls request(). The first one in a frame asks for an
// animation frame; the rest find it pending and return: however many frames
// arrive between two paints, the page draws once, from the latest state.
// A hidden page asks for nothing (browsers do not run animation frames for
// hidden tabs anyway, and this way no callback waits in a queue either). When
// the page shows again, one draw catches up with the book the SDK kept
// current: no backlog to replay, because none was kept.

/** The parts of `document` and `window` the scheduler uses (tests can fake them). */
export interface FrameHost {
  readonly hidden: boolean;
  request_frame(callback: (frame_ms: number) => void): void;
  on_visibility_change(listener: () => void): void;
}

export function browser_frame_host(): FrameHost {
  return {
    get hidden() {
      return document.hidden;
    },
    request_frame: (callback) => {
      requestAnimationFrame(callback);
    },
    on_visibility_change: (listener) => document.addEventListener('visibilitychange', listener),
  };
}

export class DrawScheduler {
  /** Draws done. */
  draws = 0;
  /** Animation frames asked for. */
  frames_requested = 0;
  /** Animation frames that ran while the page was hidden (and drew nothing). */
  hidden_frames_skipped = 0;
  /** request() calls that did nothing because the page was hidden. */
  hidden_requests = 0;
  private pending = false;

  constructor(private readonly host: FrameHost, private readonly draw: (frame_ms: number) => void) {
    host.on_visibility_change(() => {
      if (!host.hidden) this.request();
    });
  }

  /** True while an animation frame is asked for and has not run. */
  get is_pending(): boolean {
    return this.pending;
  }

  request(): void {
    if (this.pending) return;
    if (this.host.hidden) {
      this.hidden_requests++;
      return;
    }
    this.pending = true;
    this.frames_requested++;
    this.host.request_frame(this.on_frame);
  }

  private readonly on_frame = (frame_ms: number): void => {
    this.pending = false;
    if (this.host.hidden) {
      // Became hidden after asking; the visibilitychange back to visible asks again.
      this.hidden_frames_skipped++;
      return;
    }
    this.draws++;
    this.draw(frame_ms);
  };
}
