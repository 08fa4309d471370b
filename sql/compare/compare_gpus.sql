-- compare_gpus: the GPU models a trace ran on: the devices that executed kernels, or every described device when
-- the trace has no kernels. Empty when the trace does not describe its devices. No parameters.
CREATE OR REPLACE VIEW compare_gpus(
    -- Device id as used by kernels.device_id.
    device_id,
    -- Product name (NVIDIA H100 80GB HBM3).
    name
) AS
SELECT DISTINCT device_id, name
FROM devices
WHERE name IS NOT NULL
  AND (device_id IN (SELECT device_id FROM kernels) OR NOT EXISTS (SELECT 1 FROM kernels))
