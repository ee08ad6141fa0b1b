// depthcast/client/latency: the SDK's opt-in per-hop latency histograms.
//
//   import { connect } from 'depthcast/client';
//   import { client_latency } from 'depthcast/client/latency';
//   const hops = client_latency();
//   const client = connect(url, { hops });
//   hops.percentiles('engine_to_receive');   // { count, p50, p99, p99_9, max, ... } in µs
//
// Why a separate entry: the histograms are HDR histograms (hdr-histogram-js,
// with pako inside) at ~140 KB minified, several times the core client. A page
// that never imports this entry never downloads them (the core only knows the
// small LatencySink interface). Cost: ~280 KB of memory per HopHistograms of the
// two client hops (totals and an interval each); one recordValue per hop per
// Delta. hdr-histogram-js is an optional peer dependency of the package:
// install it beside depthcast to use this entry.
import { HopHistograms, client_hops } from '../metrics/hop_histograms.js';

export {
  HopHistograms, HopHistogramsError, HopRecorder, client_hops, hop_names, latency_us_max,
  type HopName, type HopPercentiles, type HopHistogramsOptions, type EncodedHopHistograms, type EncodedHop,
} from '../metrics/hop_histograms.js';

/** HDR histograms of the client's two hops, ready for `connect(url, { hops })`. */
export function client_latency(): HopHistograms {
  return new HopHistograms(client_hops);
}
