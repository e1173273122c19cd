;; L-BFGS's loops over parameter vectors, in WebAssembly SIMD (see vector-space.ts for why and how they are used).
;;
;; Vectors live in this module's memory (imported as env.memory): pointers are byte offsets into it, n counts
;; doubles. Every function gives the very same doubles as the JavaScript loops in vector-space.ts: the same
;; operations in the same order on each element (wasm has no implicit fused multiply-add), and dot products keep
;; the same four partial sums, element i going to sum i mod 4 (lane 0/1 of $acc0 hold sums 0/1, of $acc1 sums 2/3)
;; and the last n mod 4 elements to sum 0, added up as (s0 + s1) + (s2 + s3).
;; Assembled at build time by wabt's wat2wasm (scripts/generate.mjs); test/learn/vector-space.test.ts checks each
;; function against its JavaScript twin, bit for bit.
;;
;; Loops follow one shape: (block $done (loop $next (br_if $done (i32.ge_u i end)) ...body... i += step (br $next)))
;; with the vector loop stepping 32 bytes (4 doubles) up to the largest multiple of 4, then a scalar tail.
(module
  (import "env" "memory" (memory 0))

  ;; (s0 + s1) + (s2 + s3) of the partial sums held in acc0 = [s0, s1] and acc1 = [s2, s3].
  (func $total (param $acc0 v128) (param $acc1 v128) (result f64)
    (f64.add
      (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0)))
      (f64.add (f64x2.extract_lane 0 (local.get $acc1)) (f64x2.extract_lane 1 (local.get $acc1)))))

  ;; Byte length of the part of n doubles handled four at a time.
  (func $vectorBytes (param $n i32) (result i32)
    (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 3)))

  ;; Adds v to lane 0 of acc (partial sum 0: where the tail's products go).
  (func $addToFirst (param $acc v128) (param $v f64) (result v128)
    (f64x2.replace_lane 0 (local.get $acc) (f64.add (f64x2.extract_lane 0 (local.get $acc)) (local.get $v))))

  ;; a . b
  (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $all i32) (local $acc0 v128) (local $acc1 v128)
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $acc0 (f64x2.add (local.get $acc0)
        (f64x2.mul (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i))))))
      (local.set $acc1 (f64x2.add (local.get $acc1)
        (f64x2.mul (v128.load offset=16 (i32.add (local.get $a) (local.get $i))) (v128.load offset=16 (i32.add (local.get $b) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (local.set $acc0 (call $addToFirst (local.get $acc0)
        (f64.mul (f64.load (i32.add (local.get $a) (local.get $i))) (f64.load (i32.add (local.get $b) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (call $total (local.get $acc0) (local.get $acc1)))

  ;; q = (q + a x) * scale; returns d . q (the updated q).
  (func (export "axpyScaleDot") (param $q i32) (param $a f64) (param $x i32) (param $scale f64) (param $d i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $all i32) (local $acc0 v128) (local $acc1 v128)
    (local $va v128) (local $vs v128) (local $v0 v128) (local $v1 v128) (local $v f64)
    (local.set $va (f64x2.splat (local.get $a)))
    (local.set $vs (f64x2.splat (local.get $scale)))
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $v0 (f64x2.mul
        (f64x2.add (v128.load (i32.add (local.get $q) (local.get $i))) (f64x2.mul (local.get $va) (v128.load (i32.add (local.get $x) (local.get $i)))))
        (local.get $vs)))
      (local.set $v1 (f64x2.mul
        (f64x2.add (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (f64x2.mul (local.get $va) (v128.load offset=16 (i32.add (local.get $x) (local.get $i)))))
        (local.get $vs)))
      (v128.store (i32.add (local.get $q) (local.get $i)) (local.get $v0))
      (v128.store offset=16 (i32.add (local.get $q) (local.get $i)) (local.get $v1))
      (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (v128.load (i32.add (local.get $d) (local.get $i))) (local.get $v0))))
      (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (v128.load offset=16 (i32.add (local.get $d) (local.get $i))) (local.get $v1))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (local.set $v (f64.mul
        (f64.add (f64.load (i32.add (local.get $q) (local.get $i))) (f64.mul (local.get $a) (f64.load (i32.add (local.get $x) (local.get $i)))))
        (local.get $scale)))
      (f64.store (i32.add (local.get $q) (local.get $i)) (local.get $v))
      (local.set $acc0 (call $addToFirst (local.get $acc0) (f64.mul (f64.load (i32.add (local.get $d) (local.get $i))) (local.get $v))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (call $total (local.get $acc0) (local.get $acc1)))

  ;; q = -(q + b s)
  (func (export "negAxpy") (param $q i32) (param $b f64) (param $s i32) (param $n i32)
    (local $i i32) (local $end i32) (local $all i32) (local $vb v128)
    (local.set $vb (f64x2.splat (local.get $b)))
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $q) (local.get $i))
        (f64x2.neg (f64x2.add (v128.load (i32.add (local.get $q) (local.get $i))) (f64x2.mul (local.get $vb) (v128.load (i32.add (local.get $s) (local.get $i)))))))
      (v128.store offset=16 (i32.add (local.get $q) (local.get $i))
        (f64x2.neg (f64x2.add (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (f64x2.mul (local.get $vb) (v128.load offset=16 (i32.add (local.get $s) (local.get $i)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (f64.store (i32.add (local.get $q) (local.get $i))
        (f64.neg (f64.add (f64.load (i32.add (local.get $q) (local.get $i))) (f64.mul (local.get $b) (f64.load (i32.add (local.get $s) (local.get $i)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next))))

  ;; y[i] += a x[i] for i < n
  (func (export "axpy") (param $y i32) (param $a f64) (param $x i32) (param $n i32)
    (local $i i32) (local $end i32) (local $all i32) (local $va v128)
    (local.set $va (f64x2.splat (local.get $a)))
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $y) (local.get $i))
        (f64x2.add (v128.load (i32.add (local.get $y) (local.get $i))) (f64x2.mul (local.get $va) (v128.load (i32.add (local.get $x) (local.get $i))))))
      (v128.store offset=16 (i32.add (local.get $y) (local.get $i))
        (f64x2.add (v128.load offset=16 (i32.add (local.get $y) (local.get $i))) (f64x2.mul (local.get $va) (v128.load offset=16 (i32.add (local.get $x) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (f64.store (i32.add (local.get $y) (local.get $i))
        (f64.add (f64.load (i32.add (local.get $y) (local.get $i))) (f64.mul (local.get $a) (f64.load (i32.add (local.get $x) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next))))

  ;; out = x + step d
  (func (export "along") (param $out i32) (param $x i32) (param $step f64) (param $d i32) (param $n i32)
    (local $i i32) (local $end i32) (local $all i32) (local $vstep v128)
    (local.set $vstep (f64x2.splat (local.get $step)))
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f64x2.add (v128.load (i32.add (local.get $x) (local.get $i))) (f64x2.mul (local.get $vstep) (v128.load (i32.add (local.get $d) (local.get $i))))))
      (v128.store offset=16 (i32.add (local.get $out) (local.get $i))
        (f64x2.add (v128.load offset=16 (i32.add (local.get $x) (local.get $i))) (f64x2.mul (local.get $vstep) (v128.load offset=16 (i32.add (local.get $d) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (f64.store (i32.add (local.get $out) (local.get $i))
        (f64.add (f64.load (i32.add (local.get $x) (local.get $i))) (f64.mul (local.get $step) (f64.load (i32.add (local.get $d) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next))))

  ;; s = t - x, y = g - gp; returns s . y
  (func (export "diffDot") (param $s i32) (param $y i32) (param $t i32) (param $x i32) (param $g i32) (param $gp i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $all i32) (local $acc0 v128) (local $acc1 v128)
    (local $s0 v128) (local $s1 v128) (local $y0 v128) (local $y1 v128) (local $ss f64) (local $sy f64)
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $s0 (f64x2.sub (v128.load (i32.add (local.get $t) (local.get $i))) (v128.load (i32.add (local.get $x) (local.get $i)))))
      (local.set $s1 (f64x2.sub (v128.load offset=16 (i32.add (local.get $t) (local.get $i))) (v128.load offset=16 (i32.add (local.get $x) (local.get $i)))))
      (local.set $y0 (f64x2.sub (v128.load (i32.add (local.get $g) (local.get $i))) (v128.load (i32.add (local.get $gp) (local.get $i)))))
      (local.set $y1 (f64x2.sub (v128.load offset=16 (i32.add (local.get $g) (local.get $i))) (v128.load offset=16 (i32.add (local.get $gp) (local.get $i)))))
      (v128.store (i32.add (local.get $s) (local.get $i)) (local.get $s0))
      (v128.store offset=16 (i32.add (local.get $s) (local.get $i)) (local.get $s1))
      (v128.store (i32.add (local.get $y) (local.get $i)) (local.get $y0))
      (v128.store offset=16 (i32.add (local.get $y) (local.get $i)) (local.get $y1))
      (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $s0) (local.get $y0))))
      (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $s1) (local.get $y1))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (local.set $ss (f64.sub (f64.load (i32.add (local.get $t) (local.get $i))) (f64.load (i32.add (local.get $x) (local.get $i)))))
      (local.set $sy (f64.sub (f64.load (i32.add (local.get $g) (local.get $i))) (f64.load (i32.add (local.get $gp) (local.get $i)))))
      (f64.store (i32.add (local.get $s) (local.get $i)) (local.get $ss))
      (f64.store (i32.add (local.get $y) (local.get $i)) (local.get $sy))
      (local.set $acc0 (call $addToFirst (local.get $acc0) (f64.mul (local.get $ss) (local.get $sy))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (call $total (local.get $acc0) (local.get $acc1)))

  ;; The largest |g_i|, NaNs passed over (as `if (v > max) max = v` does); 0 for n = 0.
  (func (export "absMax") (param $g i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $all i32) (local $m0 v128) (local $m1 v128) (local $m f64) (local $v f64)
    (local.set $end (call $vectorBytes (local.get $n)))
    (local.set $all (i32.shl (local.get $n) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      ;; pmax(m, v) is m < v ? v : m: a NaN v leaves m as it was.
      (local.set $m0 (f64x2.pmax (local.get $m0) (f64x2.abs (v128.load (i32.add (local.get $g) (local.get $i))))))
      (local.set $m1 (f64x2.pmax (local.get $m1) (f64x2.abs (v128.load offset=16 (i32.add (local.get $g) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
    (local.set $m0 (f64x2.pmax (local.get $m0) (local.get $m1)))
    (local.set $m (f64x2.extract_lane 0 (local.get $m0)))
    (if (f64.lt (local.get $m) (f64x2.extract_lane 1 (local.get $m0))) (then (local.set $m (f64x2.extract_lane 1 (local.get $m0)))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $all)))
      (local.set $v (f64.abs (f64.load (i32.add (local.get $g) (local.get $i)))))
      (if (f64.lt (local.get $m) (local.get $v)) (then (local.set $m (local.get $v))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (local.get $m))
)
