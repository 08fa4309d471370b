-- perfetto devices: one row per GPU that has work or a device record, with its product name when known.
-- No parameters.
WITH used AS (
    SELECT DISTINCT device_id FROM kernels
    UNION SELECT DISTINCT device_id FROM memcpy
    UNION SELECT DISTINCT device_id FROM memset
    UNION SELECT device_id FROM devices
)
SELECT u.device_id, any_value(d.name) AS name
FROM used u LEFT JOIN devices d USING (device_id)
WHERE u.device_id IS NOT NULL
GROUP BY u.device_id
ORDER BY u.device_id
