// The gateway's HTTP API as the page uses it. Every failure becomes an ApiError carrying
// the API's own {error_code, message}.

export const PREFIX = "/api/v1/diarize";
const KEY_STORAGE = "diarization.apiKey";
// EventSource and <audio> cannot send headers: for GET requests the gateway also reads
// the API key from this cookie (SameSite=Strict, so other sites never send it).
const KEY_COOKIE = "diarization_api_key";

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  if (key) {
    localStorage.setItem(KEY_STORAGE, key);
    document.cookie = `${KEY_COOKIE}=${encodeURIComponent(key)}; path=${PREFIX}; SameSite=Strict${secure}`;
  } else {
    localStorage.removeItem(KEY_STORAGE);
    document.cookie = `${KEY_COOKIE}=; path=${PREFIX}; max-age=0; SameSite=Strict${secure}`;
  }
}

function headers() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

async function failure(response) {
  try {
    const body = await response.json();
    if (body && body.error_code) {
      return new ApiError(body.error_code, body.message, response.status);
    }
  } catch {
    // not the API's JSON (a proxy's page, say): fall through
  }
  return new ApiError("HTTP_" + response.status, response.statusText || "request failed",
    response.status);
}

export async function getJson(path) {
  let response;
  try {
    response = await fetch(PREFIX + path, { headers: headers() });
  } catch {
    throw new ApiError("NETWORK", "the service cannot be reached: check the connection");
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function remove(taskId) {
  const response = await fetch(`${PREFIX}/${encodeURIComponent(taskId)}`,
    { method: "DELETE", headers: headers() });
  if (!response.ok) throw await failure(response);
  return response.json();
}

// XMLHttpRequest rather than fetch: it reports upload progress.
export function upload(form, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `${PREFIX}/upload`);
    for (const [name, value] of Object.entries(headers())) request.setRequestHeader(name, value);
    request.responseType = "json";
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      const body = request.response;
      if (request.status >= 200 && request.status < 300) resolve(body);
      else if (body && body.error_code) reject(new ApiError(body.error_code, body.message, request.status));
      else reject(new ApiError("HTTP_" + request.status, "the upload was refused", request.status));
    };
    request.onerror = () => reject(new ApiError("NETWORK", "the upload did not reach the service"));
    request.send(form);
  });
}

const task = (taskId) => encodeURIComponent(taskId);
export const eventsUrl = (taskId) => `${PREFIX}/events/${task(taskId)}`;
export const audioUrl = (taskId, file) =>
  `${PREFIX}/audio/${task(taskId)}?file=${encodeURIComponent(file)}`;
export const downloadUrl = (taskId, format) => `${PREFIX}/download/${task(taskId)}?format=${format}`;
