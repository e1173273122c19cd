import { escapeHtml } from '../report/escape-html.js';

/**
 * `index.html` of a web export: choose or drop images, see the top classes as bars. Labels, preprocessing and
 * metrics come from model.json through classify.js; the page holds no model constants.
 * `window.graftClassifier` (a promise) lets other scripts, and the tests, reuse the loaded model.
 */
export function exampleIndexHtml(modelName: string, engine: 'onnxruntime-web' | 'tfjs' = 'onnxruntime-web'): string {
  const runtime = engine === 'tfjs' ? 'TensorFlow.js' : 'onnxruntime-web';
  const scripts = engine === 'tfjs' ? '<script src="tf.min.js"></script>\n<script src="tf-backend-wasm.min.js"></script>' : '<script src="ort.wasm.min.js"></script>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(modelName)}: classify images in the browser</title>
<style>
*{box-sizing:border-box}
body{margin:0 auto;max-width:900px;padding:16px;font:15px/1.5 system-ui,sans-serif;color:#111827}
h1{font-size:1.4rem;overflow-wrap:anywhere}
.drop{display:block;border:2px dashed #9ca3af;border-radius:10px;padding:20px;text-align:center;cursor:pointer}
.drop.over,.drop:focus-within{border-color:#2563eb;background:#eff6ff}
input[type=file]:focus-visible+span{outline:3px solid #2563eb}
#status{color:#4b5563;min-height:1.5em}
ul{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,260px),1fr));gap:12px}
li{border:1px solid #d1d5db;border-radius:10px;padding:8px}
li img{width:100%;max-height:220px;object-fit:contain;background:#f3f4f6;border-radius:6px}
.bar{display:grid;grid-template-columns:minmax(0,7rem) 1fr 3.5rem;gap:6px;align-items:center;font-size:.9rem}
.bar span:first-child{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar meter{width:100%}
</style>
</head>
<body>
<h1>${escapeHtml(modelName)}</h1>
<p id="about">Everything runs in this page with ${runtime}; no image leaves your computer.</p>
<label class="drop" id="drop">Choose or drop images
  <input type="file" id="files" accept="image/*" multiple>
</label>
<p id="status" role="status" aria-live="polite">Loading the model...</p>
<ul id="results" aria-label="Results"></ul>
${scripts}
<script src="classify.js"></script>
<script>
(function () {
  var status = document.getElementById('status');
  var results = document.getElementById('results');
  var ready = GraftWeb.load('./');
  window.graftClassifier = ready;
  ready.then(function (c) {
    var val = c.info.metrics.val;
    var cv = c.info.metrics.cv;
    var score = val ? '. Validation accuracy ' + (val.accuracy * 100).toFixed(1) + '%.' : cv ? '. Cross-validated accuracy on the training images ' + (cv.accuracy * 100).toFixed(1) + '%.' : '.';
    document.getElementById('about').textContent = 'Classes: ' + c.info.labels.join(', ') + score + ' Runs in this page with ${runtime}.';
    status.textContent = 'Model loaded. Choose images.';
  }, function (e) { status.textContent = 'Could not load the model: ' + e.message; });

  async function show(files) {
    var c = await ready;
    for (var file of files) {
      var li = document.createElement('li');
      var img = document.createElement('img');
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      li.appendChild(img);
      results.prepend(li);
      try {
        var r = await c.classify(file, { topK: 3 });
        r.predictions.forEach(function (p) {
          var row = document.createElement('div');
          row.className = 'bar';
          var name = document.createElement('span'); name.textContent = p.label;
          var meter = document.createElement('meter'); meter.min = 0; meter.max = 1; meter.value = p.probability; meter.setAttribute('aria-label', p.label);
          var pct = document.createElement('span'); pct.textContent = (p.probability * 100).toFixed(1) + '%';
          row.append(name, meter, pct);
          li.appendChild(row);
        });
        li.dataset.top = r.predictions[0].label;
        img.alt = file.name + ', classified as ' + r.predictions[0].label + ', ' + (r.predictions[0].probability * 100).toFixed(1) + '%';
        status.textContent = file.name + ': ' + r.predictions[0].label + ' (' + r.timing_ms.toFixed(0) + ' ms)';
      } catch (e) {
        li.appendChild(document.createTextNode('Could not classify: ' + e.message));
        // Said in the live region too, as a result is: a screen reader hears it.
        status.textContent = file.name + ': could not classify: ' + e.message;
      }
    }
  }
  document.getElementById('files').addEventListener('change', function (e) { show(e.target.files); });
  var drop = document.getElementById('drop');
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) { e.preventDefault(); drop.classList.remove('over'); show(e.dataTransfer.files); });
})();
</script>
</body>
</html>
`;
}
