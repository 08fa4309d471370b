"""Code that runs on the GPU box (nsys wrapper, CPU sampler); stdlib-only imports."""
