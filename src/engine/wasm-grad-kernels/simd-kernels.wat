;; Graft's WebAssembly SIMD loops for tfjs-backend-wasm (see simd-module.ts for why they exist).
;;
;; The module imports tfjs-wasm's own memory as env.memory, so every function reads and writes tensors in
;; place on the wasm heap: pointers are byte offsets into it (the backend's memoryOffsets), counts are
;; elements unless a name says Bytes. Assembled at build time by wabt's wat2wasm (scripts/build-generated.mjs);
;; test/wasm-grad-kernels.test.ts checks every function against tfjs's cpu backend.
;;
;; Loops follow one shape throughout:
;;   (block $done (loop $next (br_if $done (i32.ge_u i end)) ...body... i += step (br $next)))
;; and vector loops step 16 bytes (4 floats): callers guarantee the vectorised extent is a multiple of 4.
(module
  (import "env" "memory" (memory 0))

  ;; out[i] = (x[i] > lo, or x[i] >= lo unless strictLo) and x[i] <= hi ? dy[i] : 0, for i < n.
  ;; The gradient of ClipByValue (lo <= x <= hi), Relu6 (0 < x <= 6) and Relu (0 < x) in one pass.
  (func (export "rangeGrad")
    (param $x i32) (param $dy i32) (param $out i32) (param $n i32)
    (param $lo f32) (param $hi f32) (param $strictLo i32)
    (local $i i32) (local $endVec i32) (local $endAll i32)
    (local $vlo v128) (local $vhi v128) (local $vstrict v128) (local $vx v128)
    (local $sx f32)
    (local.set $vlo (f32x4.splat (local.get $lo)))
    (local.set $vhi (f32x4.splat (local.get $hi)))
    ;; All ones when strictLo: bitselect then takes x > lo, else x >= lo.
    (local.set $vstrict (i32x4.splat (i32.sub (i32.const 0) (local.get $strictLo))))
    (local.set $endVec (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $endAll (i32.shl (local.get $n) (i32.const 2)))
    (local.set $i (i32.const 0))
    ;; Four floats at a time.
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $endVec)))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (v128.and
          (v128.load (i32.add (local.get $dy) (local.get $i)))
          (v128.and
            (v128.bitselect
              (f32x4.gt (local.tee $vx (v128.load (i32.add (local.get $x) (local.get $i)))) (local.get $vlo))
              (f32x4.ge (local.get $vx) (local.get $vlo))
              (local.get $vstrict))
            (f32x4.le (local.get $vx) (local.get $vhi)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $next)))
    ;; The last n mod 4 floats.
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $endAll)))
      (f32.store (i32.add (local.get $out) (local.get $i))
        (select
          (f32.load (i32.add (local.get $dy) (local.get $i)))
          (f32.const 0)
          (i32.and
            (select
              (f32.gt (local.tee $sx (f32.load (i32.add (local.get $x) (local.get $i)))) (local.get $lo))
              (f32.ge (local.get $sx) (local.get $lo))
              (local.get $strictLo))
            (f32.le (local.get $sx) (local.get $hi)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next))))

  ;; out[c] = sum over r < rows of x[r * cols + c], cols a multiple of 4: a Sum over the leading axes, which
  ;; tfjs-wasm's Sum does as a Transpose followed by a row sum. `out` is zeroed, then x streams by once.
  (func (export "columnSum")
    (param $x i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $rowBytes i32) (local $endRows i32) (local $rowPtr i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $endRows (i32.mul (local.get $rows) (local.get $rowBytes)))
    (local.set $c (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $rowBytes)))
      (v128.store (i32.add (local.get $out) (local.get $c)) (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $next)))
    ;; $r walks byte offsets of rows.
    (local.set $r (i32.const 0))
    (block $rowsDone (loop $nextRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $endRows)))
      (local.set $rowPtr (i32.add (local.get $x) (local.get $r)))
      (local.set $c (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (v128.store (i32.add (local.get $out) (local.get $c))
          (f32x4.add
            (v128.load (i32.add (local.get $out) (local.get $c)))
            (v128.load (i32.add (local.get $rowPtr) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $next)))
      (local.set $r (i32.add (local.get $r) (local.get $rowBytes)))
      (br $nextRow))))

  ;; The filter gradient of a depthwise conv (multiplier 1, dilation 1), NHWC, channels a multiple of 4:
  ;; for every dy pixel (n, ho, wo) and every tap (i, j) whose input pixel
  ;; (hi, wi) = (ho*strideHeight + i - padTop, wo*strideWidth + j - padLeft) lies inside x,
  ;; out[i, j, :] += x[n, hi, wi, :] * dy[n, ho, wo, :]. `out` ([kh, kw, C], a few KiB) is zeroed first and
  ;; stays in cache while x and dy stream by once. Taps outside x are skipped: hi and wi are compared
  ;; unsigned, so a negative row or column (in the padding) is out of range too.
  (func (export "depthwiseFilterGrad")
    (param $x i32) (param $dy i32) (param $out i32)
    (param $batch i32) (param $inHeight i32) (param $inWidth i32) (param $channels i32)
    (param $outHeight i32) (param $outWidth i32) (param $filterHeight i32) (param $filterWidth i32)
    (param $strideHeight i32) (param $strideWidth i32) (param $padTop i32) (param $padLeft i32)
    (local $n i32) (local $ho i32) (local $wo i32) (local $i i32) (local $j i32) (local $hi i32) (local $wi i32)
    (local $cb i32)     ;; byte offset within a pixel's channels
    (local $dyPix i32)  ;; dy[n, ho, wo, 0]
    (local $pixel i32)  ;; x[n, hi, wi, 0]
    (local $tap i32)    ;; out[i, j, 0]
    (local $cBytes i32) (local $total i32)
    (local.set $cBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $total (i32.mul (i32.mul (local.get $filterHeight) (local.get $filterWidth)) (local.get $cBytes)))
    (local.set $cb (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $cb) (local.get $total)))
      (v128.store (i32.add (local.get $out) (local.get $cb)) (v128.const i32x4 0 0 0 0))
      (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
      (br $next)))
    (local.set $dyPix (local.get $dy))
    (local.set $n (i32.const 0))
    (block $nDone (loop $nNext
      (br_if $nDone (i32.ge_u (local.get $n) (local.get $batch)))
      (local.set $ho (i32.const 0))
      (block $hoDone (loop $hoNext
        (br_if $hoDone (i32.ge_u (local.get $ho) (local.get $outHeight)))
        (local.set $wo (i32.const 0))
        (block $woDone (loop $woNext
          (br_if $woDone (i32.ge_u (local.get $wo) (local.get $outWidth)))
          (local.set $i (i32.const 0))
          (block $iDone (loop $iNext
            (br_if $iDone (i32.ge_u (local.get $i) (local.get $filterHeight)))
            (local.set $hi (i32.sub (i32.add (i32.mul (local.get $ho) (local.get $strideHeight)) (local.get $i)) (local.get $padTop)))
            (if (i32.lt_u (local.get $hi) (local.get $inHeight)) (then
              (local.set $j (i32.const 0))
              (block $jDone (loop $jNext
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $filterWidth)))
                (local.set $wi (i32.sub (i32.add (i32.mul (local.get $wo) (local.get $strideWidth)) (local.get $j)) (local.get $padLeft)))
                (if (i32.lt_u (local.get $wi) (local.get $inWidth)) (then
                  (local.set $pixel
                    (i32.add (local.get $x)
                      (i32.mul
                        (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $inHeight)) (local.get $hi)) (local.get $inWidth)) (local.get $wi))
                        (local.get $cBytes))))
                  (local.set $tap
                    (i32.add (local.get $out)
                      (i32.mul (i32.add (i32.mul (local.get $i) (local.get $filterWidth)) (local.get $j)) (local.get $cBytes))))
                  (local.set $cb (i32.const 0))
                  (block $cDone (loop $cNext
                    (br_if $cDone (i32.ge_u (local.get $cb) (local.get $cBytes)))
                    (v128.store (i32.add (local.get $tap) (local.get $cb))
                      (f32x4.add
                        (v128.load (i32.add (local.get $tap) (local.get $cb)))
                        (f32x4.mul
                          (v128.load (i32.add (local.get $pixel) (local.get $cb)))
                          (v128.load (i32.add (local.get $dyPix) (local.get $cb))))))
                    (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
                    (br $cNext)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jNext)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iNext)))
          ;; dy is read in order: one pixel per (n, ho, wo).
          (local.set $dyPix (i32.add (local.get $dyPix) (local.get $cBytes)))
          (local.set $wo (i32.add (local.get $wo) (i32.const 1)))
          (br $woNext)))
        (local.set $ho (i32.add (local.get $ho) (i32.const 1)))
        (br $hoNext)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nNext))))

  ;; The input gradient of a depthwise conv (multiplier 1, dilation 1), NHWC, channels a multiple of 4, gathered
  ;; per input pixel: dx[n, hi, wi, :] = sum over the taps (i, j) with hi + padTop - i = ho*strideHeight and
  ;; wi + padLeft - j = wo*strideWidth for a dy pixel (ho, wo) inside dy of filter[i, j, :] * dy[n, ho, wo, :].
  ;; With stride s only ~1/s^2 of the taps reach a pixel, and they are enumerated directly (i from
  ;; (hi + padTop) mod strideHeight, step strideHeight), so a stride costs nothing extra; tfjs's route (a conv
  ;; over a zero-upsampled dy) does s^2 times the work. ho and wo are compared unsigned: a negative one
  ;; (a tap below row 0 of dy) is out of range too.
  (func (export "depthwiseInputGather")
    (param $filter i32) (param $dy i32) (param $out i32)
    (param $batch i32) (param $inHeight i32) (param $inWidth i32) (param $channels i32)
    (param $outHeight i32) (param $outWidth i32) (param $filterHeight i32) (param $filterWidth i32)
    (param $strideHeight i32) (param $strideWidth i32) (param $padTop i32) (param $padLeft i32)
    (local $n i32) (local $hi i32) (local $wi i32) (local $i i32) (local $j i32) (local $ho i32) (local $wo i32)
    (local $cb i32)     ;; byte offset within a pixel's channels
    (local $dxPix i32)  ;; out[n, hi, wi, 0]
    (local $dyPix i32)  ;; dy[n, ho, wo, 0]
    (local $tap i32)    ;; filter[i, j, 0]
    (local $cBytes i32)
    (local $dyRow i32)  ;; dy[n, ho, 0, 0]
    (local.set $cBytes (i32.shl (local.get $channels) (i32.const 2)))
    ;; out is written in order: one pixel per (n, hi, wi).
    (local.set $dxPix (local.get $out))
    (local.set $n (i32.const 0))
    (block $nDone (loop $nNext
      (br_if $nDone (i32.ge_u (local.get $n) (local.get $batch)))
      (local.set $hi (i32.const 0))
      (block $hiDone (loop $hiNext
        (br_if $hiDone (i32.ge_u (local.get $hi) (local.get $inHeight)))
        (local.set $wi (i32.const 0))
        (block $wiDone (loop $wiNext
          (br_if $wiDone (i32.ge_u (local.get $wi) (local.get $inWidth)))
          (local.set $cb (i32.const 0))
          (block $zeroDone (loop $zeroNext
            (br_if $zeroDone (i32.ge_u (local.get $cb) (local.get $cBytes)))
            (v128.store (i32.add (local.get $dxPix) (local.get $cb)) (v128.const i32x4 0 0 0 0))
            (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
            (br $zeroNext)))
          (local.set $i (i32.rem_u (i32.add (local.get $hi) (local.get $padTop)) (local.get $strideHeight)))
          (block $iDone (loop $iNext
            (br_if $iDone (i32.ge_u (local.get $i) (local.get $filterHeight)))
            (local.set $ho (i32.div_s (i32.sub (i32.add (local.get $hi) (local.get $padTop)) (local.get $i)) (local.get $strideHeight)))
            (if (i32.lt_u (local.get $ho) (local.get $outHeight)) (then
              (local.set $dyRow
                (i32.add (local.get $dy)
                  (i32.mul
                    (i32.mul (i32.add (i32.mul (local.get $n) (local.get $outHeight)) (local.get $ho)) (local.get $outWidth))
                    (local.get $cBytes))))
              (local.set $j (i32.rem_u (i32.add (local.get $wi) (local.get $padLeft)) (local.get $strideWidth)))
              (block $jDone (loop $jNext
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $filterWidth)))
                (local.set $wo (i32.div_s (i32.sub (i32.add (local.get $wi) (local.get $padLeft)) (local.get $j)) (local.get $strideWidth)))
                (if (i32.lt_u (local.get $wo) (local.get $outWidth)) (then
                  (local.set $dyPix (i32.add (local.get $dyRow) (i32.mul (local.get $wo) (local.get $cBytes))))
                  (local.set $tap
                    (i32.add (local.get $filter)
                      (i32.mul (i32.add (i32.mul (local.get $i) (local.get $filterWidth)) (local.get $j)) (local.get $cBytes))))
                  (local.set $cb (i32.const 0))
                  (block $cDone (loop $cNext
                    (br_if $cDone (i32.ge_u (local.get $cb) (local.get $cBytes)))
                    (v128.store (i32.add (local.get $dxPix) (local.get $cb))
                      (f32x4.add
                        (v128.load (i32.add (local.get $dxPix) (local.get $cb)))
                        (f32x4.mul
                          (v128.load (i32.add (local.get $tap) (local.get $cb)))
                          (v128.load (i32.add (local.get $dyPix) (local.get $cb))))))
                    (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
                    (br $cNext)))))
                (local.set $j (i32.add (local.get $j) (local.get $strideWidth)))
                (br $jNext)))))
            (local.set $i (i32.add (local.get $i) (local.get $strideHeight)))
            (br $iNext)))
          (local.set $dxPix (i32.add (local.get $dxPix) (local.get $cBytes)))
          (local.set $wi (i32.add (local.get $wi) (i32.const 1)))
          (br $wiNext)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 1)))
        (br $hiNext)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nNext))))

  ;; out = a^T b for a [rows, m] and b [rows, n] (n a multiple of 4): out[m, n] = sum over r of a[r, m] * b[r, n].
  ;; out ([m, n], kept small by the caller) stays in cache while a and b stream by once, four rows at a time
  ;; (each a[r..r+3, m] splatted, four multiply-adds per out vector), then the last rows mod 4 one by one:
  ;; the weight gradient of a 1x1 conv with few channels at high resolution, where XNNPACK needs a transposed
  ;; copy and a repacked [rows, n] operand.
  (func (export "transposedProduct")
    (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $m i32) (param $n i32)
    (local $r i32)
    (local $mOff i32)    ;; byte offset of column m within a row of a
    (local $nOff i32)    ;; byte offset of column n within a row of b and of out
    (local $nBytes i32) (local $mBytes i32)
    (local $aRow i32) (local $bRow i32)  ;; a[r, 0], b[r, 0]
    (local $oRow i32)    ;; out[m, 0]
    (local $rows4 i32)   ;; rows rounded down to a multiple of 4
    (local $p i32) (local $q i32)        ;; out[m, nOff], b[r, nOff]
    (local $total i32)
    (local $mBytes2 i32) (local $mBytes3 i32) (local $nBytes2 i32) (local $nBytes3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)  ;; a[r + k, m] in every lane
    (local.set $nBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $mBytes (i32.shl (local.get $m) (i32.const 2)))
    (local.set $mBytes2 (i32.shl (local.get $mBytes) (i32.const 1)))
    (local.set $mBytes3 (i32.add (local.get $mBytes2) (local.get $mBytes)))
    (local.set $nBytes2 (i32.shl (local.get $nBytes) (i32.const 1)))
    (local.set $nBytes3 (i32.add (local.get $nBytes2) (local.get $nBytes)))
    (local.set $total (i32.mul (local.get $m) (local.get $nBytes)))
    (local.set $nOff (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $nOff) (local.get $total)))
      (v128.store (i32.add (local.get $out) (local.get $nOff)) (v128.const i32x4 0 0 0 0))
      (local.set $nOff (i32.add (local.get $nOff) (i32.const 16)))
      (br $next)))
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $aRow (local.get $a))
    (local.set $bRow (local.get $b))
    (local.set $r (i32.const 0))
    ;; Four rows of a and b per pass over out.
    (block $rDone (loop $rNext
      (br_if $rDone (i32.ge_u (local.get $r) (local.get $rows4)))
      (local.set $oRow (local.get $out))
      (local.set $mOff (i32.const 0))
      (block $mDone (loop $mNext
        (br_if $mDone (i32.ge_u (local.get $mOff) (local.get $mBytes)))
        (local.set $a0 (v128.load32_splat (i32.add (local.get $aRow) (local.get $mOff))))
        (local.set $a1 (v128.load32_splat (i32.add (i32.add (local.get $aRow) (local.get $mOff)) (local.get $mBytes))))
        (local.set $a2 (v128.load32_splat (i32.add (i32.add (local.get $aRow) (local.get $mOff)) (local.get $mBytes2))))
        (local.set $a3 (v128.load32_splat (i32.add (i32.add (local.get $aRow) (local.get $mOff)) (local.get $mBytes3))))
        (local.set $nOff (i32.const 0))
        (block $nDone (loop $nNext
          (br_if $nDone (i32.ge_u (local.get $nOff) (local.get $nBytes)))
          (local.set $p (i32.add (local.get $oRow) (local.get $nOff)))
          (local.set $q (i32.add (local.get $bRow) (local.get $nOff)))
          (v128.store (local.get $p)
            (f32x4.add
              (f32x4.add
                (f32x4.add
                  (f32x4.add
                    (v128.load (local.get $p))
                    (f32x4.mul (v128.load (local.get $q)) (local.get $a0)))
                  (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $nBytes))) (local.get $a1)))
                (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $nBytes2))) (local.get $a2)))
              (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $nBytes3))) (local.get $a3))))
          (local.set $nOff (i32.add (local.get $nOff) (i32.const 16)))
          (br $nNext)))
        (local.set $oRow (i32.add (local.get $oRow) (local.get $nBytes)))
        (local.set $mOff (i32.add (local.get $mOff) (i32.const 4)))
        (br $mNext)))
      (local.set $aRow (i32.add (local.get $aRow) (i32.shl (local.get $mBytes) (i32.const 2))))
      (local.set $bRow (i32.add (local.get $bRow) (i32.shl (local.get $nBytes) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $rNext)))
    ;; The remaining rows mod 4, one at a time.
    (block $rDone (loop $rNext
      (br_if $rDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $oRow (local.get $out))
      (local.set $mOff (i32.const 0))
      (block $mDone (loop $mNext
        (br_if $mDone (i32.ge_u (local.get $mOff) (local.get $mBytes)))
        (local.set $a0 (v128.load32_splat (i32.add (local.get $aRow) (local.get $mOff))))
        (local.set $nOff (i32.const 0))
        (block $nDone (loop $nNext
          (br_if $nDone (i32.ge_u (local.get $nOff) (local.get $nBytes)))
          (local.set $p (i32.add (local.get $oRow) (local.get $nOff)))
          (local.set $q (i32.add (local.get $bRow) (local.get $nOff)))
          (v128.store (local.get $p)
            (f32x4.add
              (v128.load (local.get $p))
              (f32x4.mul (v128.load (local.get $q)) (local.get $a0))))
          (local.set $nOff (i32.add (local.get $nOff) (i32.const 16)))
          (br $nNext)))
        (local.set $oRow (i32.add (local.get $oRow) (local.get $nBytes)))
        (local.set $mOff (i32.add (local.get $mOff) (i32.const 4)))
        (br $mNext)))
      (local.set $aRow (i32.add (local.get $aRow) (local.get $mBytes)))
      (local.set $bRow (i32.add (local.get $bRow) (local.get $nBytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rNext)))))
