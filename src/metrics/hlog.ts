// Writer of an HdrHistogram interval log (.hlog), the format HdrHistogram's own
// tools read (HistogramLogProcessor, HdrHistogramVisualizer, hdr-plot):
//
//   #[Histogram log format version 1.3]
//   #[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 2023 …]
//   #[BaseTime: 1700000000.000 (seconds since epoch)]
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   Tag=engine_to_receive,0.000,1.000,0.812,HISTFAAAA…
//
// One tagged line per hop per interval; timestamps are seconds relative to the
// start time; values are µs, so Interval_Max is printed in ms (ratio 1000).
// The header lines are written here rather than by hdr-histogram-js's
// outputStartTime(), which ends the StartTime comment with an extra blank line.
// Interval lines come from its HistogramLogWriter (compressed V2 encoding,
// compatible with the Java implementation).
import { HistogramLogWriter } from 'hdr-histogram-js';
import type { HopHistograms } from './hop_histograms.js';

export const hlog_format_version = '1.3';
export const hlog_legend = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"';
/** Values are µs; HdrHistogram tools conventionally print Interval_Max in ms. */
export const hlog_max_value_unit_ratio = 1000;

function seconds_3(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export class HlogWriter {
  private readonly writer: HistogramLogWriter;
  private header_written = false;

  /**
   * write receives text chunks (each ends with a newline); the caller decides
   * where they go (a file stream in loadgen, a string in tests).
   */
  constructor(private readonly write: (text: string) => void, readonly start_ms: number) {
    this.writer = new HistogramLogWriter(write);
    this.writer.baseTime = start_ms;
  }

  /** Writes the header once; output_interval calls it on first use. */
  output_header(comments: readonly string[] = []): void {
    if (this.header_written) return;
    this.header_written = true;
    for (const c of comments) this.write(`#${c.replace(/[\r\n]+/g, ' ')}\n`);
    this.write(`#[Histogram log format version ${hlog_format_version}]\n`);
    this.write(`#[StartTime: ${seconds_3(this.start_ms)} (seconds since epoch), ${new Date(this.start_ms).toString()}]\n`);
    this.write(`#[BaseTime: ${seconds_3(this.start_ms)} (seconds since epoch)]\n`);
    this.write(`${hlog_legend}\n`);
  }

  /**
   * Writes one tagged line per hop of an interval (from HopHistograms.take_interval()),
   * hops with no samples included so the log has no holes in time. tag_prefix
   * lets several series share one log (loadgen: 'slow.engine_to_receive').
   */
  output_interval(interval: HopHistograms, tag_prefix = ''): void {
    this.output_header();
    for (const hop of interval.hops) {
      const h = interval.histogram(hop);
      h.tag = `${tag_prefix}${hop}`;
      h.startTimeStampMsec = interval.start_ms;
      h.endTimeStampMsec = interval.end_ms;
      this.writer.outputIntervalHistogram(
        h,
        (interval.start_ms - this.start_ms) / 1000,
        (interval.end_ms - this.start_ms) / 1000,
        hlog_max_value_unit_ratio,
      );
    }
  }
}
