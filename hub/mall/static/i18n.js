// Texts of the dashboard and the citizen page: Bahasa Indonesia first, English on request.
"use strict";
const TEXTS = {
  id: {
    title: "Dasbor Mal Pelayanan Publik Banyuwangi", live: "langsung", signout: "Keluar", token: "Token petugas",
    signin: "Masuk", open: "Terbuka", new_today: "Baru hari ini", finished_today: "Selesai hari ini",
    in_process: "Diproses instansi", waiting_on_citizen: "Menunggu warga", at_risk: "Berisiko", breached: "Terlambat",
    lead: "Waktu layanan (median / p90, hari kerja)", oldest: "Terlama menunggu instansi",
    queues: "Antrean per instansi", agency: "Instansi", risk: "Berisiko dan terlambat", by_service: "per layanan",
    by_kecamatan: "per kecamatan", by_agency: "per instansi", name: "Nama", requests: "Permohonan",
    f_open: "terbuka", f_all: "semua", request: "No. permohonan", service: "Layanan", village: "Desa",
    status: "Status", age: "Umur", more: "Lebih banyak", activity: "Aktivitas langsung",
    privacy: "Siapa menerima data saya (UU 27/2022)", show: "Tampilkan", scope: "Cakupan kebocoran",
    days: "hari", hours: "jam", within: "sesuai standar", standard: "standar", deadline: "batas waktu",
    next_citizen: "menunggu warga", next_agency: "menunggu instansi", next_none: "selesai",
    deliveries: "pengiriman", citizens: "warga", bad_token: "Token tidak dikenal",
    citizen_title: "Cek status permohonan", citizen_id: "Nomor permohonan", citizen_nik: "4 digit terakhir NIK",
    citizen_check: "Cek", citizen_none: "Permohonan tidak ditemukan. Periksa nomor dan 4 digit NIK.",
    citizen_limited: "Terlalu banyak percobaan. Coba lagi sebentar lagi.", citizen_data: "Siapa menerima data Anda",
    citizen_next: "Langkah berikutnya",
    st: {SUBMITTED: "diajukan", RECEIVED: "diterima", VERIFIED: "diverifikasi", RETURNED: "dikembalikan",
         REJECTED: "ditolak", IN_PROCESS: "diproses", WAITING_EXTERNAL: "menunggu pihak lain", APPROVED: "disetujui",
         READY: "siap diambil", COMPLETED: "selesai", CANCELLED: "dibatalkan", EXPIRED: "kedaluwarsa"},
  },
  en: {
    title: "Banyuwangi Public Service Mall dashboard", live: "live", signout: "Sign out", token: "Staff token",
    signin: "Sign in", open: "Open", new_today: "New today", finished_today: "Finished today",
    in_process: "With the agency", waiting_on_citizen: "Waiting on citizen", at_risk: "At risk", breached: "Breached",
    lead: "Lead time (median / p90, working days)", oldest: "Oldest waiting on an agency",
    queues: "Queues by agency", agency: "Agency", risk: "At risk and breached", by_service: "by service",
    by_kecamatan: "by kecamatan", by_agency: "by agency", name: "Name", requests: "Requests",
    f_open: "open", f_all: "all", request: "Request no.", service: "Service", village: "Village",
    status: "Status", age: "Age", more: "More", activity: "Live activity",
    privacy: "Who received my data (UU 27/2022)", show: "Show", scope: "Breach scope",
    days: "days", hours: "h", within: "within standard", standard: "standard", deadline: "deadline",
    next_citizen: "waiting on the citizen", next_agency: "waiting on the agency", next_none: "finished",
    deliveries: "deliveries", citizens: "citizens", bad_token: "Unknown token",
    citizen_title: "Check a request", citizen_id: "Request number", citizen_nik: "Last 4 digits of the NIK",
    citizen_check: "Check", citizen_none: "No request found. Check the number and the 4 NIK digits.",
    citizen_limited: "Too many attempts. Try again in a moment.", citizen_data: "Who received your data",
    citizen_next: "Next step",
    st: {SUBMITTED: "submitted", RECEIVED: "received", VERIFIED: "verified", RETURNED: "returned",
         REJECTED: "rejected", IN_PROCESS: "in process", WAITING_EXTERNAL: "waiting on a third party",
         APPROVED: "approved", READY: "ready for collection", COMPLETED: "completed", CANCELLED: "cancelled",
         EXPIRED: "expired"},
  },
};
let LANG = localStorage.getItem("mall-lang") === "en" ? "en" : "id";
function t(key) { return (TEXTS[LANG] && TEXTS[LANG][key]) || TEXTS.id[key] || key; }
function statusText(s) { return TEXTS[LANG].st[s] || s; }
function applyTexts() {
  document.documentElement.lang = LANG;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const button = document.getElementById("lang");
  if (button) button.textContent = LANG === "id" ? "EN" : "ID";
}
function toggleLanguage() {
  LANG = LANG === "id" ? "en" : "id";
  localStorage.setItem("mall-lang", LANG);
  applyTexts();
}
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return node;
}
function when(iso) {
  const d = new Date(iso);
  return d.toLocaleString(LANG === "id" ? "id-ID" : "en-GB", {timeZone: "Asia/Jakarta", dateStyle: "short",
                                                              timeStyle: "short"});
}
