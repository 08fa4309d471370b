-- compare_range_samples: every closed NVTX / annotation range except the steps themselves, with its origin
-- (nvtx, user_annotation, cpu_op, gpu_user_annotation). Ranges cut off by the end of capture are left out: their
-- duration is not the range's. So are step markers of any origin (`ProfilerStep#N`, also as the GPU-side
-- annotation Kineto adds): they restate the step time, one name per step. No parameters.
CREATE OR REPLACE VIEW compare_range_samples(
    -- Origin of the range (nvtx_ranges.category).
    category,
    -- Range text as recorded.
    name,
    -- Range duration, ns.
    dur_ns
) AS
SELECT coalesce(category, 'nvtx') AS category, name, dur_ns
FROM nvtx_ranges
WHERE NOT coalesce(unterminated, false)
  AND range_id NOT IN (SELECT range_id FROM compare_steps)
  AND coalesce(category, '') <> 'profiler_step'
  AND NOT regexp_matches(coalesce(name, ''), '^ProfilerStep#\d+$')
