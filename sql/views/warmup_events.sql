-- warmup_events: one-shot start-up work a process did, one row per piece of evidence: host calls and annotation
-- ranges that happen once per process (or once per new kernel, shape or library) and are not part of a steady
-- step. kind says which:
--   module_load  lazy loading of GPU code: cuModuleLoad*, cuLibraryLoad* (CUDA lazy loading loads a module at
--                its first launch), cudaModuleLoad*
--   jit          run-time compilation: NVRTC (nvrtc*), nvJitLink*, the driver linker (cuLink*), and annotation
--                ranges of compilers (nvFuser compileFusion / Nvrtc::CompileProgram, Inductor compile_fx, Dynamo
--                convert_frame, Triton compile, FlashInfer/cubin loaders)
--   handle       library handle creation: cublasCreate, cublasLtCreate, cudnnCreate, cusparseCreate,
--                cusolver*Create, cufftPlan*, ncclCommInit*
--   context      CUDA context creation (cuInit, cuCtxCreate, cuDevicePrimaryCtxRetain)
--   annotation   a range the program itself named warm-up (warmup, warm-up, warm_up; GPU-timeline copies left out)
--   first_use    a kernel launch call that itself lasted most of the GPU idle gap before its kernel and at least
--                1 ms (view first_use_loads, the idle ledger's load test too): the driver loading the kernel's
--                module on first use (CUDA lazy loading) where the trace records no module-load call of its own
-- Names are matched as recorded (api_calls.name has version suffixes folded). Calls that run every step
-- (Dynamo's compile_wrapper, "CompiledFunction", "Torch-Compiled Region") are not compilation and never match.
-- Columns: pid, tid, start_ns, end_ns, dur_ns, kind, name, source (api | range). No parameters.
CREATE OR REPLACE VIEW warmup_events AS
WITH api AS (
    SELECT pid, tid, start_ns, end_ns, dur_ns, name,
           CASE
               WHEN regexp_matches(name, '^(cuModuleLoad|cuLibraryLoad|cudaModuleLoad|cudaLibraryLoad)') THEN 'module_load'
               WHEN regexp_matches(name, '^(nvrtc|nvJitLink|cuLinkCreate|cuLinkAdd|cuLinkComplete)') THEN 'jit'
               WHEN regexp_matches(name, '^(cublasCreate|cublasLtCreate|cudnnCreate|cusparseCreate|cusolver(Dn|Sp|Rf)?Create|cufftPlan|ncclCommInit)') THEN 'handle'
               WHEN regexp_matches(name, '^(cuInit|cuCtxCreate|cuDevicePrimaryCtxRetain)$') THEN 'context'
           END AS kind
    FROM api_calls
    WHERE regexp_matches(name, '^(cu|nv|cuda)')
),
ranges AS (
    SELECT pid, tid, start_ns, end_ns, dur_ns, name,
           CASE
               WHEN regexp_matches(name, '(?i)warm[ _-]?up') THEN 'annotation'
               WHEN regexp_matches(name, '(?i)(nvrtc|compilefusion|compileprogram|compile_fx|convert_frame|_compile_inner|triton[._ ]?compile|jit[._ ]?compile|cubin_loader|nvjitlink)')
                    AND NOT regexp_matches(name, '(?i)compile_wrapper')
                   THEN 'jit'
           END AS kind
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0
      -- a substring test discards the (usually millions of) other names at a quarter of a regex's cost
      AND (name ILIKE '%warm%' OR name ILIKE '%nvrtc%' OR name ILIKE '%compile%' OR name ILIKE '%triton%'
           OR name ILIKE '%jit%' OR name ILIKE '%cubin%')
),
first_use AS (
    SELECT pid, tid, start_ns, end_ns, dur_ns, 'first_use' AS kind, 'first-use load in ' || api_name AS name
    FROM first_use_loads
    WHERE pid IS NOT NULL
)
SELECT pid, tid, start_ns, end_ns, dur_ns, kind, name, 'api' AS source FROM api WHERE kind IS NOT NULL
UNION ALL
SELECT pid, tid, start_ns, end_ns, dur_ns, kind, name, 'api' FROM first_use
UNION ALL
SELECT pid, tid, start_ns, end_ns, dur_ns, kind, name, 'range' FROM ranges WHERE kind IS NOT NULL
