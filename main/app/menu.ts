import { app, Menu, type MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  /** Ask for folders with the native dialog and import them; `labelsFromFolders` when the user chose that item. */
  addFolders(labelsFromFolders: boolean): void;
}

/** The application menu: adding folders, the standard edit and window roles, and Reload only in development. */
export function buildAppMenu(actions: MenuActions, options: { dev: boolean }): Menu {
  const isMac = process.platform === 'darwin';
  const fileMenu: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'Add Folder…', accelerator: 'CmdOrCtrl+O', click: () => actions.addFolders(false) },
      { label: 'Add Folder with Labels from Subfolders…', accelerator: 'CmdOrCtrl+Shift+O', click: () => actions.addFolders(true) },
      { type: 'separator' },
      isMac ? { role: 'close' } : { role: 'quit', label: 'Quit Curio' },
    ],
  };
  const viewMenu: MenuItemConstructorOptions = {
    label: 'View',
    submenu: [
      ...(options.dev
        ? ([{ role: 'reload' }, { role: 'forceReload' }, { role: 'toggleDevTools' }, { type: 'separator' }] as MenuItemConstructorOptions[])
        : []),
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  };
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? ([{ label: app.name, submenu: [{ role: 'about' }, { type: 'separator' }, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, { type: 'separator' }, { role: 'quit' }] }] as MenuItemConstructorOptions[]) : []),
    fileMenu,
    { role: 'editMenu' },
    viewMenu,
    { role: 'windowMenu' },
  ];
  return Menu.buildFromTemplate(template);
}
