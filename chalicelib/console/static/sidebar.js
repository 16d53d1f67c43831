// The chat sidebar (聊天工具栏): inside WeCom, ask which customer the chat is with and open their page.
// wx.agentConfig with the parameters the server signed for this page's URL, then getCurExternalContact; the page
// says what went wrong otherwise. Loaded after WeCom's JS-SDK (or the sandbox's player); no inline script.
(function () {
  "use strict";
  var root = document.getElementById("sidebar-frame");
  var status = document.getElementById("sidebar-status");
  if (!root || !status || !root.getAttribute("data-signature")) { return; }
  function say(text) { status.textContent = text; }
  var here = window.location.href.split("#")[0];
  var signed = root.getAttribute("data-url");
  if (here !== signed) {
    var a = new URL(here), b = new URL(signed);
    if (a.origin === b.origin && a.pathname === b.pathname) {
      window.location.replace(signed);  // the same page with its query in the order it was signed: sign it there
    } else {
      say("页面地址与签名地址不一致（" + here + "），请检查 SIYU_CONSOLE_URL 与侧边栏配置的地址。");
    }
    return;
  }
  if (!window.wx || typeof window.wx.agentConfig !== "function") {
    say("没有加载到企业微信 JS-SDK：请在企业微信中打开本页。");
    return;
  }
  say("正在识别当前聊天的客户…");
  window.wx.agentConfig({
    corpid: root.getAttribute("data-corpid"),
    agentid: root.getAttribute("data-agentid"),
    timestamp: Number(root.getAttribute("data-timestamp")),
    nonceStr: root.getAttribute("data-nonce"),
    signature: root.getAttribute("data-signature"),
    jsApiList: (root.getAttribute("data-apis") || "").split(","),
    success: function () {
      window.wx.invoke("getCurExternalContact", {}, function (res) {
        if (res && res.err_msg === "getCurExternalContact:ok" && res.userId) {
          var url = root.getAttribute("data-customer-url") + "?external_userid=" + encodeURIComponent(res.userId);
          window.location.replace(url);
        } else {
          say("没有识别到客户：请在与客户的单聊中打开侧边栏（" + (res && res.err_msg) + "）。");
        }
      });
    },
    fail: function (res) {
      say("企业微信未通过本页的签名，请刷新重试（" + (res && res.errMsg) + "）。");
    },
  });
})();
