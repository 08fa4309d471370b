-- rule: pcie_saturated
-- title: Copies saturate the PCIe link
-- severity: auto
-- group_by: device_id
-- param min_pcie_pct = 80: report a copy direction whose PCIe throughput in that direction (RX for host-to-device,
--   TX for device-to-host), % of the link's peak and time-weighted over its copies, reaches this. Protocol overhead
--   (packet headers, flow control) keeps payload below ~90 % of the nominal rate, so 80 % over the copies' own time
--   means the link carried nearly all it can (pinned 1 GiB copies of the H200 metrics export: 91-92 %).
-- param min_share = 0.05: report a device when such copies take at least this fraction of its active span
-- impact: none (0): the copies' time is counted once, by copy_bound (copy time nothing overlapped) and the idle
--   ledger (idle before copies); this finding says why that time cannot be overlapped away and adds none to it.
--   Its severity is what auto severity would make of the copy time spent at saturation (the copies' time x the
--   measured fraction of link peak) against the device's active span: high from 10 %, medium from 3 %.
-- summary: {gpu} ran {direction} copies at {pcie_pct:.0f}% of the PCIe link's peak ({bytes:bytes} in {count:int}
--   copies, {dur_ns:time}, {rate:rate} achieved): the link is saturated (its time is copy time,
--   counted by copy_bound and the idle ledger, not again here).
-- recommendation: The link is the limit, so pinned memory and overlap cannot make these copies faster: move fewer
--   bytes. Keep weights and reused tensors resident on the GPU, copy only what changed, send compressed or
--   lower-precision data (FP16/INT8) and expand it on the GPU, or use a faster path (NVLink, GPUDirect).
-- why: Pinning and asynchronous copies help when the link idles between or under copies; once the link runs at its
--   peak, the copy time is bytes / link bandwidth and only fewer bytes shorten it.
WITH copies AS (
    SELECT row_number() OVER (ORDER BY device_id, start_ns, stream_id, correlation_id) AS interval_id, device_id,
           start_ns, end_ns, dur_ns, bytes, copy_kind_name,
           CASE copy_kind_name WHEN 'HtoD' THEN 'pcie_rx_bw_pct' WHEN 'DtoH' THEN 'pcie_tx_bw_pct' END AS wanted
    FROM memcpy
    WHERE copy_kind_name IN ('HtoD', 'DtoH')
),
measured AS (
    SELECT copy_kind_name, device_id, dur_ns, bytes, mean_value
    FROM gpu_metrics_during(copies)
    WHERE metric_id = wanted AND NOT below_period AND coverage > 0
),
dirs AS (
    SELECT device_id, copy_kind_name AS direction, count(*) AS count, sum(dur_ns) AS dur_ns,
           CAST(sum(bytes) AS BIGINT) AS bytes, sum(bytes) * 1e9 / nullif(sum(dur_ns), 0) AS rate,
           sum(mean_value * dur_ns) / sum(dur_ns) AS pcie_pct
    FROM measured
    GROUP BY device_id, copy_kind_name
)
SELECT 0 AS impact_ns, d.device_id, d.direction, d.count, d.bytes, d.dur_ns, d.rate, d.pcie_pct,
       CAST(round(d.dur_ns * least(d.pcie_pct, 100) / 100) AS BIGINT) AS saturated_ns,
       CASE WHEN d.dur_ns * least(d.pcie_pct, 100) / 100 >= 0.10 * s.span_ns THEN 'high'
            WHEN d.dur_ns * least(d.pcie_pct, 100) / 100 >= 0.03 * s.span_ns THEN 'medium'
            ELSE 'low' END AS severity
FROM dirs d
JOIN gpu_device_summary s USING (device_id)
WHERE d.pcie_pct >= $min_pcie_pct AND d.dur_ns >= $min_share * s.span_ns
